# tabellad and tabella in a small image. Build: docker build -t tabella .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/tabellad ./cmd/tabellad \
 && CGO_ENABLED=0 go build -trimpath -o /out/tabella ./cmd/tabella

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/tabella tabella
COPY --from=build /out/tabellad /out/tabella /usr/local/bin/
USER tabella
ENTRYPOINT ["tabellad"]
CMD ["start", "--home", "/var/lib/tabella"]
