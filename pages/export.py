"""Export: download the session in a chosen format, or send its OTLP trace to a collector.

The session's title and every error (a collector's answer among them) are shown as text,
never as Markdown (`components.plain`): they come from files and servers, not from us."""

from __future__ import annotations

import json
from contextlib import contextmanager

import streamlit as st

from components.app_state import require_session, selected_session_id
from components.plain import plain
from engine import WorkbenchError
from sessions.exporting import EXPORTS, download_name, export_bytes, export_session, otlp_headers
from sessions.service import Workbench


@contextmanager
def plain_errors(what: str):
    """A WorkbenchError (or anything else a send can raise) as an error box saying `what`, its text as text."""
    try:
        yield
    except WorkbenchError as exc:
        st.error(f"{what}: {plain(exc)}", icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 (a failed send must not break the page; the text may hold a URL)
        st.error(f"{what}: {type(exc).__name__} (the details are not shown: they may hold the endpoint)",
                 icon=":material/error:")


session = require_session(Workbench.shared().find(selected_session_id()))
st.title("Export")
st.caption(plain(session.title))

name = st.radio("Format", list(EXPORTS), format_func=lambda option: EXPORTS[option].label, horizontal=True,
                key="export_format")
chosen = EXPORTS[name]
st.write(chosen.description)

events = f"{session.last_seq:,} event{'s' if session.last_seq != 1 else ''}"
messages = len(session.state().messages)
counts = {"jsonl": events, "otlp": events, "parquet": f"{events}, {messages:,} messages",
          "markdown": f"{messages:,} message{'s' if messages != 1 else ''}"}
file_name = download_name(session, name)
with plain_errors("The export cannot be made"):
    st.download_button(
        f"Download {chosen.label} ({counts[name]})",
        data=lambda: export_bytes(session, name)[0],  # written only when the person asks for it
        file_name=file_name,
        mime=chosen.mime,
        help=f"Saves {file_name}",
        type="primary",
        key=f"download_{name}",
    )
    if name == "jsonl":
        with st.expander("First lines"):
            st.code("\n".join(json.dumps(r.to_dict(), ensure_ascii=False)[:1_000] for r in session.records()[:4]),
                    language="json")
    if name == "parquet":
        st.caption("The columns of each table are described in the README (Parquet export schema). "
                   "`python -m sessions export SESSION --format parquet -o DIR` writes both files into a folder.")

st.subheader("Send to a collector")
st.write("Sends the OTLP trace over OTLP/HTTP (protobuf) to a collector such as an OpenTelemetry Collector, "
         "Langfuse or Phoenix.")
with plain_errors("The headers in OTEL_EXPORTER_OTLP_HEADERS cannot be used"):
    headers = otlp_headers()
    st.caption(f"{len(headers)} header{'s' if len(headers) != 1 else ''} from the app's environment "
               "(OTEL_EXPORTER_OTLP_HEADERS); their names and values are not shown." if headers else
               "No headers: a collector that needs a key gets it from OTEL_EXPORTER_OTLP_HEADERS in the app's "
               "environment (`key=value,key2=value2`), never from this page.")
endpoint = st.text_input("Collector endpoint URL", key="otlp_endpoint", placeholder="http://localhost:4318/v1/traces")
if st.button("Send OTLP trace", key="send_otlp"):
    if not endpoint.strip():
        st.error("Enter the collector's endpoint URL first, such as http://localhost:4318/v1/traces.")
    else:
        with plain_errors("The trace was not sent"):
            st.success(plain(export_session(session, "otlp", None, otlp_endpoint=endpoint.strip()) + "."),
                       icon=":material/check:")
