"""Exports one batch of metrics of every OTLP type with the official OpenTelemetry
Python SDK and its OTLP/gRPC exporter, to the endpoint given as the first argument.

Run by crates/server/tests/otlp_grpc.rs. Exits 0 when the exporter reports success,
1 when it reports failure (the server's answer is then on stderr, from the SDK's log).
"""

import sys

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource


def main(endpoint: str, compression: str) -> int:
    resource = Resource.create({"service.name": "checkout", "service.instance.id": "pod-7", "host.name": "web-7"})
    reader = InMemoryMetricReader()
    exp_view = View(instrument_name="app.payload.size", aggregation=ExponentialBucketHistogramAggregation())
    provider = MeterProvider(resource=resource, metric_readers=[reader], views=[exp_view])
    meter = provider.get_meter("wk-grpc-test")

    requests = meter.create_counter("app.requests", unit="{request}", description="Requests served.")
    requests.add(5, {"route": "/pay"})
    requests.add(2, {"route": "/pay"})
    requests.add(1, {"route": "/cart"})

    temperature = meter.create_gauge("app.temperature", unit="Cel", description="Room temperature.")
    temperature.set(21.5, {"room": "lab"})

    queue = meter.create_up_down_counter("app.queue.length", unit="{item}", description="Items waiting.")
    queue.add(10)
    queue.add(-3)

    latency = meter.create_histogram(
        "app.latency", unit="s", description="Request latency.", explicit_bucket_boundaries_advisory=[0.1, 1.0, 10.0]
    )
    for value in (0.05, 0.3, 7.0, 7.0):
        latency.record(value, {"route": "/pay"})

    size = meter.create_histogram("app.payload.size", unit="By", description="Payload sizes.")
    for value in (1, 2, 4, 1000):
        size.record(value)

    data = reader.get_metrics_data()
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=10, compression=compression)
    result = exporter.export(data)
    exporter.shutdown()
    provider.shutdown()
    print(f"export result: {result.name}")
    return 0 if result == MetricExportResult.SUCCESS else 1


if __name__ == "__main__":
    from grpc import Compression

    compression = {"gzip": Compression.Gzip, "none": Compression.NoCompression}[sys.argv[2]]
    sys.exit(main(sys.argv[1], compression))
