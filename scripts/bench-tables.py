#!/usr/bin/env python3
"""Prints the tables of BENCHMARKS.md sections 1, 3 and 4 from benchmarks/results.json (written by
`make bench`), so the document quotes the measurement instead of copying numbers by hand."""

import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
results = json.loads((ROOT / "benchmarks" / "results.json").read_text())

NAMES = {
    "hello-logging": "hello + logging",
    "hello-store": "hello + Lambda client (not called)",
    "progress": "progress (stream processor)",
}

cold = {c["function"]: c for c in results["coldStart"]}
hello = cold["hello"]
reference = cold["hello-dynamodb"]
print(f"measured {results['date']}\n")
print("| function | init (median) | × hello | first response (median, min–max) | × hello-dynamodb | peak RSS | arm64 zip |")
print("|---|---|---|---|---|---|---|")
for c in results["coldStart"]:
    name = c["function"]
    reference_ratio = (
        "—" if name.startswith("hello") and name != "hello-dynamodb" else f"{c['median_ms'] / reference['median_ms']:.2f}×"
    )
    # Zips come from `make build-lambda`, run after the bench at the same commit: read them where
    # they are (the bench notes only the zips it found, possibly of an older build).
    built = ROOT / "target" / "lambda" / name / "bootstrap.zip"
    zip_bytes = built.stat().st_size if built.exists() else c.get("zip_bytes")
    zip_size = f"{zip_bytes / 1e6:.2f} MB" if zip_bytes else "—"
    print(
        f"| {NAMES.get(name, name)} | {c['init_median_ms']:.2f} ms | {c['init_median_ms'] / hello['init_median_ms']:.2f}× "
        f"| {c['median_ms']:.2f} ms ({c['min_ms']:.1f}–{c['max_ms']:.1f}) | {reference_ratio} | {c['peak_rss_mb']:.1f} MB | {zip_size} |"
    )

print("\n| route | concurrency | HTTP req/s | p50 | p99 | raw DynamoDB req/s | p50 | p99 | HTTP / raw |")
print("|---|---|---|---|---|---|---|---|---|")
rows = {(l["route"], l["concurrency"], l["path"]): l for l in results["http"]}
for (route, concurrency, path), http in rows.items():
    if path != "http":
        continue
    raw = rows[(route, concurrency, "dynamodb")]
    print(
        f"| {route} | {concurrency} | {http['rps']:.0f} | {http['p50_ms']:.2f} ms | {http['p99_ms']:.2f} ms "
        f"| {raw['rps']:.0f} | {raw['p50_ms']:.2f} ms | {raw['p99_ms']:.2f} ms | {100 * http['rps'] / raw['rps']:.0f} % |"
    )

print("\n| reader | sending | burst sent in | written p50 | written p99 | written max | seen p50 | seen p99 | processed |")
print("|---|---|---|---|---|---|---|---|---|")
ms = lambda v: f"{v:.0f} ms" if v is not None else "—"
for key in ["progressLatencyPaced", "progressLatency", "progressLatencyQuietPaced", "progressLatencyQuiet"]:
    p = results[key]
    sending = f"paced, {p['rate']:.0f} logs/s" if p.get("rate") else "as fast as answered"
    reader = "dashboard (list every 100 ms)" if p["reader"] == "dashboard" else "none"
    print(
        f"| {reader} | {sending} | {p['burst_ms'] / 1000:.1f} s | {ms(p['written_p50_ms'])} | {ms(p['written_p99_ms'])} "
        f"| {ms(p['written_max_ms'])} | {ms(p.get('p50_ms'))} | {ms(p.get('p99_ms'))} | {p['processed_per_s']:.0f} logs/s |"
    )

print("\n| paced rate (no reader) | written p50 | written p99 | p99 < 1 s |")
print("|---|---|---|---|")
for p in results["progressPacedRates"]:
    print(f"| {p['rate']:.0f} logs/s | {ms(p['written_p50_ms'])} | {ms(p['written_p99_ms'])} | {'yes' if p['written_p99_ms'] < 1000 else 'no'} |")
print(f"\nhighest paced rate with p99 < 1 s: {results['progressHighestRateUnderOneSecond']:.0f} logs/s")

limit = results["progressLocalLimit"]
quiet = results["progressLatencyQuiet"]
print(
    f"\nlocal limit: the unpaced burst's {limit['writes']} writes ({limit['writes'] / limit['logs']:.1f} a log) replayed raw "
    f"at concurrency {limit['concurrency']} in {limit['seconds']:.2f} s = {limit['logs_per_s']:.0f} logs/s; "
    f"the pipeline sustained {quiet['processed_per_s']:.0f} logs/s = {100 * results['progressShareOfLocalLimit']:.0f} %"
)
