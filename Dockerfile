# A small image for Cloud Run jobs and Kubernetes: a static binary on distroless. The binary is
# built by scripts/gobuild.sh, as every release binary is, so a release's image holds that
# release's linux binary byte for byte (make release-check compares them where Docker runs).
#
# `make release VERSION=vX.Y.Z` builds it when a Docker engine runs. By hand, from a checkout of
# the release's tag (VERSION and COMMIT stamp `syncer version`; SOURCE_DATE_EPOCH, the commit's
# time, and rewrite-timestamp make two builds give the same image):
#   git checkout v0.1.0
#   SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) docker buildx build --provenance=false \
#     --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     --output type=docker,name=syncer:v0.1.0,rewrite-timestamp=true .
# .dockerignore keeps .git out of the context: the version and commit come only from the args.
#
# golang:1.26.8 is the Makefile's RELEASE_GO (a test keeps them equal). Both images are pinned by
# tag; pinning them by digest as well (image:tag@sha256:...) keeps a rebuild byte-identical after
# a tag moves.
FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
WORKDIR /src
ENV GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=
ARG SOURCE_DATE_EPOCH
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-$(go env GOARCH)} VERSION=$VERSION COMMIT=$COMMIT \
      sh scripts/gobuild.sh /syncer \
 && if [ -n "$SOURCE_DATE_EPOCH" ]; then touch -d "@$SOURCE_DATE_EPOCH" /syncer; fi

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
ARG COMMIT=
LABEL org.opencontainers.image.source=https://github.com/syncer-dev/syncer \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$COMMIT
COPY --from=build /syncer /syncer
# distroless's nonroot user; the Kubernetes recipe's runAsUser and fsGroup name the same IDs.
USER 65532:65532
# syncer serve: /healthz, /readyz, /metrics, /report (--listen, default :8080).
EXPOSE 8080
ENTRYPOINT ["/syncer"]
CMD ["help"]
