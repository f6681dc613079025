"""The Kubernetes objects of a run: command lines, rendering of the Jinja2 templates in
include/manifests, and offline validation. Depends on the catalog only."""
