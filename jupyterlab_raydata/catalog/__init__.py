"""Run catalogs: open by name, search, metadata panels, frame loading, demo catalog."""
