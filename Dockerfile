# Docent app image: the Streamlit app and the `docent` CLI on the embedded default.
# Build: docker build -t docent .
# Run:   docker run -p 127.0.0.1:8501:8501 -e DOCENT_SERVER_ADDRESS=0.0.0.0 -v $PWD/data:/app/data docent
# Like `make run`, the app listens on DOCENT_SERVER_ADDRESS (127.0.0.1 unless set). Inside a container
# that is the container's own loopback, so the run line sets 0.0.0.0 and publishes the port on the
# host's loopback only; behind a load balancer see docs/admin-guide.md ("Where the app listens").
# (Not built in this project's CI: no Docker engine runs there. See docs/admin-guide.md.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DOCENT_DATA_DIR=/app/data
WORKDIR /app

# CPU torch by default; for a GPU image change the torch pin in constraints.txt.
COPY requirements.txt constraints.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt \
      --extra-index-url https://download.pytorch.org/whl/cpu

COPY config/ config/
COPY index/ index/
COPY llm/ llm/
COPY chain/ chain/
COPY ingest/ ingest/
COPY feedback/ feedback/
COPY finetune/ finetune/
COPY cli/ cli/
COPY api/ api/
COPY evaluation/ evaluation/
COPY Streamlit/ Streamlit/
COPY assets/ assets/
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home docent && mkdir -p /app/data \
    && chown -R docent /app/data
USER docent

EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["docent", "app"]
