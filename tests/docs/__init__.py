"""The documentation's tests (docs/, mkdocs.yml): the strict site build, links and anchors, the generated reference tables."""
