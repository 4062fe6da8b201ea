"""The cockpit: a Textual app over runtime and domain. Never imports training code (or torch)."""
