"""One module per doctor check (``tmdNNN_<name>.py`` with its ``.sql``); importing a module registers it."""
