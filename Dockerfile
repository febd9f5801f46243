# syntax=docker/dockerfile:1
# The cascade binary on a small Ubuntu image. Build: docker build -t cascade .
# The Swift runtime is linked statically, so the runtime image needs only librdkafka (and
# libcurl for Foundation's HTTP client, used by `cascade check` and `graph --live`).
ARG SWIFT_IMAGE=swift:6.1-noble
ARG RUNTIME_IMAGE=ubuntu:noble

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so editing a source file does not fetch them again.
COPY Package.* ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product cascade --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/cascade" /usr/local/bin/cascade

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka1 libcurl4 curl ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home cascade
COPY --from=build /usr/local/bin/cascade /usr/local/bin/cascade
COPY graph /etc/cascade/graph
COPY deploy/check.json /etc/cascade/check.json
USER cascade
ENTRYPOINT ["cascade"]
CMD ["--help"]
