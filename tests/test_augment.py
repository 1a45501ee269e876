"""lecture_code.augment against kornia, scikit-image, identities and hand-computed pixels."""
import numpy as np
import pytest
import torch

from lecture_code import augment as A
from lecture_code.widgets import augmentation as gallery

torch.set_num_threads(1)


def images(n=3, c=3, h=12, w=10, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------- oracles: kornia
def test_hflip_matches_kornia_and_is_an_involution():
    from kornia.geometry.transform import hflip
    x = images()
    assert torch.equal(A.hflip(x), hflip(x))
    assert torch.equal(A.hflip(A.hflip(x)), x)
    assert torch.equal(A.hflip(x)[..., 0], x[..., -1])


@pytest.mark.parametrize("shape", [(2, 1, 9, 9), (2, 3, 8, 11)])
def test_rotate_matches_kornia(shape):
    from kornia.geometry.transform import rotate
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
    angle = torch.tensor([17.0, -40.0])
    torch.testing.assert_close(A.rotate(x, angle), rotate(x, angle), atol=1e-5, rtol=0)


def test_rotate_matches_skimage_inside_the_image():
    from skimage.transform import rotate
    x = images(1, 1, 15, 15)[0, 0]
    ours = A.rotate(x[None], 25.0)[0].numpy()
    theirs = rotate(x.double().numpy(), 25.0, order=1, mode="constant", cval=0.0)
    # same centre, direction and bilinear interpolation; compare away from the border
    np.testing.assert_allclose(ours[3:-3, 3:-3], theirs[3:-3, 3:-3], atol=1e-5)


def test_rotation_identities_and_quarter_turn():
    x = images(2, 1, 7, 7)
    torch.testing.assert_close(A.rotate(x, 0.0), x)
    torch.testing.assert_close(A.rotate(x, 360.0), x, atol=1e-5, rtol=0)
    # counter-clockwise by 90° on a square image is torch.rot90 (the first row becomes the first column)
    torch.testing.assert_close(A.rotate(x, 90.0), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_brightness_contrast_gamma_saturation_match_kornia():
    import kornia.enhance as K
    x = images()
    f = torch.tensor([0.5, 1.0, 1.7])
    # kornia calls a pure multiplicative change "contrast"; we follow torchvision's names
    torch.testing.assert_close(A.adjust_brightness(x, f), K.adjust_contrast(x, f))
    torch.testing.assert_close(A.adjust_contrast(x, f), K.adjust_contrast_with_mean_subtraction(x, f))
    torch.testing.assert_close(A.adjust_gamma(x, f), K.adjust_gamma(x, f))
    torch.testing.assert_close(A.adjust_saturation(x, f), K.adjust_saturation_with_gray_subtraction(x, f))
    grey = images(c=1)
    torch.testing.assert_close(A.adjust_contrast(grey, f), K.adjust_contrast_with_mean_subtraction(grey, f))


def test_color_cast_is_kornia_brightness_per_channel():
    import kornia.enhance as K
    x = images(1)
    shift = torch.tensor([0.1, -0.2, 0.0])
    expected = torch.cat([K.adjust_brightness(x[:, c:c + 1], float(shift[c])) for c in range(3)], 1)
    torch.testing.assert_close(A.color_cast(x, shift), expected)


def test_resized_crop_matches_kornia_crop_and_resize():
    from kornia.geometry.transform import crop_and_resize
    x = images(1, 3, 20, 20)
    top, left, height, width = 3.0, 5.0, 11.0, 9.0
    box = torch.tensor([[[left, top], [left + width - 1, top], [left + width - 1, top + height - 1],
                         [left, top + height - 1]]])
    torch.testing.assert_close(A.resized_crop(x, top, left, height, width, (16, 13)),
                               crop_and_resize(x, box, (16, 13)), atol=1e-5, rtol=0)


def test_perspective_matches_kornia():
    from kornia.geometry.transform import get_perspective_transform, warp_perspective
    x = images(1, 1, 16, 16)
    src = torch.tensor([[[0.0, 0.0], [15.0, 0.0], [15.0, 15.0], [0.0, 15.0]]])
    dst = torch.tensor([[[1.0, 2.0], [14.0, -1.0], [16.0, 13.0], [-2.0, 15.0]]])
    torch.testing.assert_close(A.homography(src, dst), get_perspective_transform(src, dst),
                               atol=1e-4, rtol=1e-4)
    # our corners say where each output corner reads; kornia warps src -> dst, so invert
    torch.testing.assert_close(A.perspective(x, dst),
                               warp_perspective(x, get_perspective_transform(dst, src), (16, 16)),
                               atol=1e-4, rtol=0)


# ---------------------------------------------------------------- identities, hand pixels
def test_identities():
    x = images()
    torch.testing.assert_close(A.adjust_brightness(x, 1.0), x)
    torch.testing.assert_close(A.adjust_contrast(x, 1.0), x)
    torch.testing.assert_close(A.adjust_gamma(x, 1.0), x)
    torch.testing.assert_close(A.color_cast(x, torch.zeros(3)), x)
    torch.testing.assert_close(A.resized_crop(x, 0, 0, 12, 10, (12, 10)), x)
    corners = torch.tensor([[0.0, 0.0], [9.0, 0.0], [9.0, 11.0], [0.0, 11.0]])
    torch.testing.assert_close(A.perspective(x, corners), x, atol=1e-5, rtol=0)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(A.RandomPerspective(0.0)(x, generator=g), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(A.RandomResizedCrop((12, 10), scale=(1.0, 1.0), ratio=(10 / 12, 10 / 12))(x, g),
                               x, atol=1e-5, rtol=0)


def test_hand_computed_pixels():
    x = torch.arange(16.0).view(1, 1, 4, 4) / 16
    # a crop of the output's size is slicing
    torch.testing.assert_close(A.resized_crop(x, 1, 2, 2, 2, (2, 2)), x[..., 1:3, 2:4])
    # upsampling a 2-pixel row to 3 pixels puts the average in the middle
    row = torch.tensor([[[[0.0, 1.0]]]])
    torch.testing.assert_close(A.resized_crop(row, 0, 0, 1, 2, (1, 3)), torch.tensor([[[[0.0, 0.5, 1.0]]]]))
    # brightness 2 doubles and clips; contrast 0 gives the mean everywhere
    torch.testing.assert_close(A.adjust_brightness(x, 2.0), (2 * x).clamp(max=1))
    torch.testing.assert_close(A.adjust_contrast(x, 0.0), torch.full_like(x, x.mean().item()))
    # gamma 2 squares; saturation 0 on RGB gives identical channels (the luma)
    torch.testing.assert_close(A.adjust_gamma(x, 2.0), x ** 2)
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1).expand(3, 2, 2)
    torch.testing.assert_close(A.adjust_saturation(rgb, 0.0), torch.full((3, 2, 2), 0.299))


# ------------------------------------------------------------- random classes, bookkeeping
def all_transforms(h=12, w=10):
    return [A.RandomHorizontalFlip(), A.RandomResizedCrop((h, w)), A.RandomRotation(),
            A.RandomPerspective(), A.RandomBrightness(), A.RandomContrast(), A.RandomColorCast(),
            A.RandomGamma(), A.RandomSaturation(),
            A.Compose([A.RandomHorizontalFlip(), A.RandomRotation(), A.RandomBrightness()])]


@pytest.mark.parametrize("t", all_transforms(), ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_and_reproducibility(t, dtype):
    x = images().to(dtype)
    out = t(x, generator=torch.Generator().manual_seed(3))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(out, t(x, generator=torch.Generator().manual_seed(3)))
    single = t(x[0], generator=torch.Generator().manual_seed(3))
    assert single.shape == x[0].shape
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1 + 1e-6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("t", all_transforms(), ids=lambda t: type(t).__name__)
def test_runs_on_the_batch_device(t):
    x = images().cuda()
    assert t(x, generator=torch.Generator().manual_seed(0)).device == x.device


def test_draws_differ_between_images_and_seeds():
    x = images(1).expand(8, 3, 12, 10)
    t = A.RandomRotation((-30.0, 30.0))
    out = t(x, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(out[0], out[1])
    assert not torch.equal(out, t(x, generator=torch.Generator().manual_seed(1)))


def test_flip_probability():
    x = images(200, 1, 4, 4)
    out = A.RandomHorizontalFlip(1.0)(x)
    assert torch.equal(out, x.flip(-1))
    assert torch.equal(A.RandomHorizontalFlip(0.0)(x), x)


@pytest.mark.parametrize("make, name", [
    (lambda: A.RandomRotation((-400.0, 0.0)), "degrees[0]"),
    (lambda: A.RandomRotation((10.0, -10.0)), "degrees"),
    (lambda: A.RandomResizedCrop((8, 8), scale=(0.0, 1.0)), "scale[0]"),
    (lambda: A.RandomResizedCrop((8, 8), scale=(0.5, 1.5)), "scale[1]"),
    (lambda: A.RandomBrightness((-0.1, 1.0)), "factor[0]"),
    (lambda: A.RandomContrast((0.5, -1.0)), "factor[1]"),
    (lambda: A.RandomGamma((-1.0, 1.0)), "gamma[0]"),
    (lambda: A.RandomColorCast(-0.1), "shift"),
    (lambda: A.RandomHorizontalFlip(1.5), "p"),
    (lambda: A.RandomPerspective(2.0), "distortion"),
])
def test_validation_names_argument_value_and_range(make, name):
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("]", r"\]")) as info:
        make()
    assert "expected" in str(info.value)


def test_type_errors():
    with pytest.raises(TypeError, match="floating-point"):
        A.rotate(torch.zeros(1, 4, 4, dtype=torch.uint8), 10.0)
    with pytest.raises(ValueError, match="shape"):
        A.hflip(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="pair"):
        A.RandomBrightness(1.2)


def test_augmented_model_only_augments_in_training():
    model = A.AugmentedModel(torch.nn.Identity(), lambda x, generator=None: x + 1)
    x = torch.zeros(2, 1, 3, 3)
    assert torch.equal(model(x), x + 1)
    model.eval()
    assert torch.equal(model(x), x)


def test_digits_experiment_smoke():
    rows = A.digits_experiment({"none": None, "flip": A.RandomHorizontalFlip(1.0)}, seeds=(0,),
                               n_train=40, epochs=1)
    assert [r["augmentation"] for r in rows] == ["none", "flip"]
    assert all(0 <= r["val_accuracy"] <= 1 for r in rows)


def test_gallery_helpers():
    import matplotlib
    matplotlib.use("Agg")
    image = gallery.load_image("chelsea", 24)
    assert image.shape == (3, 24, 24) and 0 <= image.min() and image.max() <= 1
    for kind in gallery.default_gallery(24):
        for strength in (0.0, 1.0):
            assert gallery.gallery_transform(kind, strength, 24)(image).shape == image.shape
    with pytest.raises(ValueError, match="strength"):
        gallery.gallery_transform("rotation", 1.5)
    gallery.gallery_overview(image, draws=2)
    gallery.gallery_figure(image, A.RandomRotation(), rows=1, cols=3)


def test_gallery_overview_fits_the_column_with_legible_row_labels():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = gallery.load_image("chelsea", 24)
    fig = gallery.gallery_overview(image, draws=5)
    assert fig.get_figwidth() <= 8                  # drawn for the book's column
    rows = fig.axes[::6]                            # the first column: the originals
    labels = [ax.get_ylabel() for ax in rows]
    names = list(gallery.default_gallery(24))
    assert [label.replace("\n", " ") for label in labels] == names   # wrapped, not cut
    assert all(len(line) <= 13 for label in labels for line in label.split("\n"))
    assert min(ax.yaxis.label.get_fontsize() for ax in rows) >= 8
    assert [ax.get_title() for ax in fig.axes[:6]] == ["original"] + [f"draw {j}" for j in range(1, 6)]
    plt.close("all")


def test_gallery_widget_builds():
    pytest.importorskip("ipywidgets")
    import matplotlib
    matplotlib.use("Agg")
    widget = gallery.gallery_widget(size=32)
    strength = widget.children[1].children[0]
    strength.value = 0.9  # redraws without error
