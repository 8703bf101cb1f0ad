# Huddle as a container image: a static binary (no C library, so no libc to patch) on
# a distroless base with CA certificates and nothing else, run as an unprivileged user.
# It writes nothing to its filesystem (all state is in PostgreSQL, templates and static
# files are embedded, time zones are compiled in), so it runs with a read-only root
# filesystem: `docker run --read-only`, or readOnlyRootFilesystem in Kubernetes.
# cmd/huddle/docker_test.go builds the same target the same way.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/huddle ./cmd/huddle

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/huddle /usr/local/bin/huddle
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/huddle"]
CMD ["serve"]
