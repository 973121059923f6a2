# A small image for Cloud Run jobs and Kubernetes: a static binary on distroless.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t syncer .
# (.dockerignore keeps .git out of the context, so the version comes only from VERSION.)
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /syncer ./cmd/syncer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /syncer /syncer
# distroless's nonroot user; the Kubernetes recipe's runAsUser and fsGroup name the same IDs.
USER 65532:65532
# syncer serve: /healthz, /readyz, /metrics, /report (--listen, default :8080).
EXPOSE 8080
ENTRYPOINT ["/syncer"]
CMD ["help"]
