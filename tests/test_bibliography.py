"""The bibliography style of the book (book/_ext/author_year_bibliography.py) on references.bib."""
import sys
from pathlib import Path

from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import author_year_bibliography as style  # noqa: E402


def formatted():
    return list(style.AuthorYearStyle().format_bibliography(parse_file(ROOT / "book" / "references.bib")))


def test_labels_are_author_year_unique_and_sorted():
    entries = formatted()
    labels = [e.label for e in entries]
    assert len(set(labels)) == len(labels), "two entries would share a label: use 2023a/2023b"
    assert "Kingma and Ba, 2015" in labels and "Dubey et al., 2023a" in labels
    assert all(label.rsplit(", ", 1)[1][:4].isdigit() for label in labels), labels
    firsts = [label.split(",")[0].lower() for label in labels]
    assert firsts == sorted(firsts)


def test_titles_keep_their_capitals_and_cs231n_is_listed():
    text = {e.key: e.text.render_as("text") for e in formatted()}
    assert "AdaInject: Injection-Based" in text["dubey2022adainject"]
    assert "CNNs" in text["dubey2023adanorm"] and "CS231n" in text["cs231n"]
