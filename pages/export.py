"""Export: download the session in a chosen format, or send its OTLP trace to a collector."""

from __future__ import annotations

import json

import streamlit as st

from components.app_state import engine_errors, require_session, selected_session_id
from sessions.exporting import EXPORTS, download_name, export_bytes, export_session, otlp_headers
from sessions.service import Workbench

session = require_session(Workbench.shared().find(selected_session_id()))
st.title("Export")
st.caption(session.title)

name = st.radio("Format", list(EXPORTS), format_func=lambda option: EXPORTS[option].label, horizontal=True,
                key="export_format")
chosen = EXPORTS[name]
st.write(chosen.description)

events = f"{session.last_seq:,} event{'s' if session.last_seq != 1 else ''}"
messages = len(session.state().messages)
counts = {"jsonl": events, "otlp": events, "parquet": f"{events}, {messages:,} messages",
          "markdown": f"{messages:,} message{'s' if messages != 1 else ''}"}
file_name = download_name(session, name)
with engine_errors():
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
with engine_errors():
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
        with engine_errors():
            st.success(export_session(session, "otlp", None, otlp_endpoint=endpoint.strip()) + ".")
