# chatwarden: a static binary in a small non-root image.
#   docker build -t chatwarden .
#   docker run -v chatwarden-data:/data -e CHATWARDEN_DISCORD_TOKEN=... \
#     -p 127.0.0.1:8080:8080 -v ./config.yaml:/etc/chatwarden/config.yaml chatwarden
# The database lives in the /data volume (CHATWARDEN_STORAGE_PATH).
# The API listens on 0.0.0.0:8080 inside the container, since the host
# cannot reach a container's loopback; the API speaks plain HTTP, so
# publish the port on the host's loopback only (-p 127.0.0.1:8080:8080)
# or only to a TLS proxy's network (SECURITY.md, Operating it safely).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/chatwarden . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatwarden /usr/local/bin/chatwarden
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY config.example.yaml /etc/chatwarden/config.yaml
USER nonroot:nonroot
VOLUME ["/data"]
ENV CHATWARDEN_STORAGE_PATH=/data/chatwarden.db \
    CHATWARDEN_API_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/chatwarden", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/chatwarden"]
CMD ["run", "--config", "/etc/chatwarden/config.yaml"]
