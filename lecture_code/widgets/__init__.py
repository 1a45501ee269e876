"""The book's widgets: interactive explorers and the static figures they draw, one module per topic.

* :mod:`~lecture_code.widgets.optimization` — optimizers' paths on 2-D surfaces and
  :func:`live_figure`, on which every live explorer is built (re-exported here);
* :mod:`~lecture_code.widgets.sgd_dynamics` — the batch-size/learning-rate grid and
  gradient descent on an ill-conditioned quadratic;
* :mod:`~lecture_code.widgets.regularization`, :mod:`~lecture_code.widgets.normalization`,
  :mod:`~lecture_code.widgets.augmentation` — the figures and explorers of those parts;
* :mod:`~lecture_code.widgets.static` — the kernel-free frame sliders for the online book.

The placement rule: library modules never import this package; a topic's plotting and explorers
live here, in ``widgets/<topic>.py``, and import the library.
"""
from ..optimizers import hyperparameters_for
from .optimization import live_figure, plot_surface, plot_trajectories, trajectory_explorer

__all__ = ["live_figure", "hyperparameters_for", "plot_surface", "plot_trajectories",
           "trajectory_explorer"]
