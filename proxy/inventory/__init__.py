"""The inventory: what AI was used, by whom, when. Models, store, writer and migrations."""
