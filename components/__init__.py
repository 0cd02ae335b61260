"""Streamlit widgets: each `render_*` takes engine values and returns what the person asked
for (an `Intent`), never touching the store itself; pages carry intents out through the
session API. Model and user text is always shown as text, never as HTML."""
