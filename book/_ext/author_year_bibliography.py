"""The bibliography in author-year form, matching the in-text citations (a Sphinx extension).

sphinxcontrib-bibtex cites in the text as "Kingma & Ba, 2015" (``bibtex_reference_style:
author_year``) but labels the bibliography with pybtex's default alphanumeric keys ("[KB15]").
This registers the pybtex style ``author_year``: entries sorted by author, year and title,
labelled "Kingma and Ba, 2015" / "Dubey et al., 2023a", titles kept in the capitals they are
written with (pybtex's default style lowercases them: "Adainject"). Two papers of the same
first author and year carry ``2023a`` / ``2023b`` in their ``year`` field, so text and list
agree.
"""
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import field, sentence


def author_year(entry) -> str:
    """``Last, year`` / ``Last and Other, year`` / ``Last et al., year`` (``n.d.`` without one)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in persons]
    if not names:
        lead = entry.fields.get("organization") or entry.fields.get("key") or entry.key
    elif len(names) == 1:
        lead = names[0]
    elif len(names) == 2:
        lead = f"{names[0]} and {names[1]}"
    else:
        lead = f"{names[0]} et al."
    return f"{lead}, {entry.fields.get('year', 'n.d.')}"


class FirstAuthorYearTitle(BaseSortingStyle):
    """Sorted as the labels read: first author's surname, year (2023a before 2023b), title."""

    def sorting_key(self, entry):
        return (author_year(entry).split(",")[0].lower(), entry.fields.get("year", ""),
                entry.fields.get("title", "").lower())


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year(entry)


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = FirstAuthorYearTitle

    def format_title(self, e, which_field, as_sentence=True):
        title = field(which_field)                     # as written: no .capitalize()
        return sentence[title] if as_sentence else title


def setup(app):
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
