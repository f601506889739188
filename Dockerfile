# rekey in a container: a static binary (CGO_ENABLED=0; the SQLite driver
# is pure Go) on an empty base image, run as a non-root user.
#
#   docker build -t rekey .
#   docker run -d -p 7443:7443 -p 7080:7080 -v rekey-data:/data \
#     -e REKEY_ADMIN_TOKEN=choose-a-long-random-token rekey
#
# The image has no shell and no curl: "rekey healthcheck" is the probe.

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -buildvcs=false: the build context has no .git (see .dockerignore), so
# "rekey version" prints the release kept in the source.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/rekey ./cmd/rekey \
 && mkdir -p /out/data /out/tmp \
 && chmod 0700 /out/data && chmod 1777 /out/tmp

FROM scratch
# CA roots for upstreams served over HTTPS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/rekey /rekey
USER 65532:65532
# Both listeners on every address inside the container: publish them
# with -p. The local CA's server certificate covers localhost and
# 127.0.0.1, so clients on the host trust /data/ca.pem as they would
# with a local "rekey serve".
ENV REKEY_DATA=/data \
    REKEY_LISTEN=0.0.0.0:7443 \
    REKEY_GATEWAY_LISTEN=0.0.0.0:7080
VOLUME /data
EXPOSE 7443 7080
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 CMD ["/rekey", "healthcheck"]
ENTRYPOINT ["/rekey"]
CMD ["serve"]
