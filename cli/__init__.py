"""The one `docent` command: cli/main.py is the root; each module here adds its commands."""
