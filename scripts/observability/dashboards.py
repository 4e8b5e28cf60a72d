#!/usr/bin/env python3
"""Writes the Grafana dashboards under deploy/dashboards/ (the JSON there is generated: edit
this file, then run it). `--check` writes nothing and fails when a committed dashboard differs
from what this file makes (scripts/observability/check.sh runs it).

Every panel queries the Prometheus data source chosen in the `datasource` variable (type
prometheus), never a fixed uid, so the same JSON imports into any Grafana. The JSON is
Grafana's dashboard model (schemaVersion 42), checked against @grafana/schema's types by
check.sh.

    python3 scripts/observability/dashboards.py           # write deploy/dashboards/*.json
    python3 scripts/observability/dashboards.py --check   # fail when they are stale
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "deploy" / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
# What a user's request is: not the probes, not the scrape.
API = 'http_route!~"/livez|/readyz|/metrics"'
SCHEMA_VERSION = 42


# ---- panels -------------------------------------------------------------------------------

def target(expr, legend="", instant=False, ref=None):
    t = {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend, "refId": ref or "A"}
    if instant:
        t.update({"instant": True, "range": False, "format": "time_series"})
    else:
        t.update({"instant": False, "range": True})
    return t


def targets(queries, instant=False):
    """queries: (expr, legend) pairs; refIds A, B, C..."""
    return [target(e, l, instant, chr(ord("A") + i)) for i, (e, l) in enumerate(queries)]


def thresholds(*steps):
    """steps: (value, color) after the base green."""
    base = [{"color": "green", "value": None}]
    return {"mode": "absolute", "steps": base + [{"color": c, "value": v} for v, c in steps]}


def timeseries(title, queries, unit="short", description="", lines=(), stack=False, mappings=None, minimum=None):
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisPlacement": "auto",
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if lines else "off"},
    }
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": thresholds(*lines),
    }
    if minimum is not None:
        defaults["min"] = minimum
    if mappings:
        defaults["mappings"] = mappings
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets(queries),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title, queries, unit="short", description="", steps=(), decimals=None):
    defaults = {"unit": unit, "color": {"mode": "thresholds"}, "thresholds": thresholds(*steps)}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets(queries, instant=True),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "auto",
            "textMode": "value_and_name" if len(queries) > 1 else "auto",
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
            "percentChangeColorMode": "standard",
        },
    }


def bargauge(title, queries, unit="short", description=""):
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets(queries, instant=True),
        "fieldConfig": {
            "defaults": {"unit": unit, "min": 0, "color": {"mode": "thresholds"}, "thresholds": thresholds()},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "basic",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
            "maxVizHeight": 300,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []},
        },
    }


def table(title, queries, description=""):
    panel = {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [dict(t, format="table") for t in targets(queries, instant=True)],
        "fieldConfig": {"defaults": {"color": {"mode": "thresholds"}, "thresholds": thresholds()}, "overrides": []},
        "options": {"showHeader": True, "frameIndex": 0, "cellHeight": "sm"},
    }
    return panel


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(sections):
    """sections: (row title, [(panel, width, height)]). Panels flow left to right under their
    row, wrapping at Grafana's 24 columns. Assigns ids and grid positions."""
    panels, y, next_id = [], 0, 1
    for title, items in sections:
        r = row(title)
        r["id"], r["gridPos"] = next_id, {"h": 1, "w": 24, "x": 0, "y": y}
        next_id, y = next_id + 1, y + 1
        panels.append(r)
        x, line_height = 0, 0
        for panel, w, h in items:
            if x + w > 24:
                x, y, line_height = 0, y + line_height, 0
            panel["id"], panel["gridPos"] = next_id, {"h": h, "w": w, "x": x, "y": y}
            next_id += 1
            panels.append(panel)
            x, line_height = x + w, max(line_height, h)
        y += line_height
    return panels


# ---- variables ----------------------------------------------------------------------------

def datasource_variable():
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        # "default": Grafana's default data source, until someone picks another.
        "current": {"text": "default", "value": "default"},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name, label, query, all_value=".*"):
    """A label's values from Prometheus; several or All may be picked, so queries use =~."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": query,
        "current": {"text": "All", "value": "$__all"},
        "includeAll": True,
        "allValue": all_value,
        "multi": True,
        "hide": 0,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "options": [],
    }


def dashboard(uid, title, description, variables, sections, tags=()):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["flotilla", *tags],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "version": 1,
        "links": [
            {
                "title": "Flotilla dashboards",
                "type": "dashboards",
                "tags": ["flotilla"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {"list": []},
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(sections),
    }


# ---- the dashboards -----------------------------------------------------------------------

def red():
    s = 'service=~"$service"'
    count = f"http_server_request_duration_seconds_count{{{s}, {API}}}"
    errors = f'http_server_request_duration_seconds_count{{{s}, {API}, http_response_status_code=~"5.."}}'
    bucket = f"http_server_request_duration_seconds_bucket{{{s}, {API}}}"
    return dashboard(
        "flotilla-red",
        "Flotilla / Service RED",
        "Rate, errors and duration of each service's HTTP API, against its SLOs (99.5% of requests "
        "not 5xx, 99% within 250 ms, over 30 days); the probes and /metrics are left out.",
        [query_variable("service", "Service", "label_values(flotilla_build_info, service)")],
        [
            ("Overview", [
                (stat("Requests", [(f"sum(rate({count}[$__rate_interval]))", "")], "reqps",
                      "Requests a second, every route but the probes and /metrics."), 4, 4),
                (stat("Errors (5xx)", [(f"sum(rate({errors}[$__rate_interval])) / sum(rate({count}[$__rate_interval]))", "")],
                      "percentunit", "Share of requests answered 5xx; the SLO allows 0.5%.",
                      [(0.005, "orange"), (0.072, "red")], 2), 4, 4),
                (stat("p99 duration", [(f"histogram_quantile(0.99, sum by (le) (rate({bucket}[$__rate_interval])))", "")],
                      "s", "The SLO: 99% of requests within 250 ms.", [(0.25, "red")]), 4, 4),
                (stat("Availability, 30 days", [
                    (f"1 - sum(increase({errors}[30d])) / sum(increase({count}[30d]))", "")],
                    "percentunit", "Share of requests not 5xx over the SLO's 30 days.",
                    [], 3), 4, 4),
                (stat("Error budget left, 30 days", [
                    (f"1 - (sum(increase({errors}[30d])) / sum(increase({count}[30d]))) / 0.005", "")],
                    "percentunit", "What is left of the 0.5% of requests that may fail in 30 days; below 0 the SLO is missed.",
                    [], 1), 4, 4),
                (stat("Instances", [(f"sum(up{{{s}}})", "up"), (f"sum(flotilla_service_ready{{{s}}})", "ready")],
                      "short", "Targets Prometheus scrapes, and instances reporting ready (/readyz)."), 4, 4),
            ]),
            ("Rate", [
                (timeseries("Requests by route", [
                    (f"sum by (service, http_request_method, http_route) (rate({count}[$__rate_interval]))",
                     "{{service}} {{http_request_method}} {{http_route}}")], "reqps"), 12, 8),
                (timeseries("Responses by status", [
                    (f"sum by (service, http_response_status_code) (rate({count}[$__rate_interval]))",
                     "{{service}} {{http_response_status_code}}")], "reqps", stack=True), 12, 8),
            ]),
            ("Errors", [
                (timeseries("Error ratio (5xx)", [
                    (f"service:http_server_request_errors:ratio_rate5m{{{s}}}", "{{service}} 5m"),
                    (f"service:http_server_request_errors:ratio_rate1h{{{s}}}", "{{service}} 1h")],
                    "percentunit", "Recorded by deploy/alerts/slo.rules.yml. The line is the SLO's 0.5%.",
                    lines=[(0.005, "red")], minimum=0), 12, 8),
                (timeseries("5xx by route and status", [
                    (f'sum by (service, http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{{{s}, http_response_status_code=~"5.."}}[$__rate_interval]))',
                     "{{service}} {{http_route}} {{http_response_status_code}}")], "reqps"), 12, 8),
                (timeseries("4xx by route and status", [
                    (f'sum by (service, http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{{{s}, http_response_status_code=~"4.."}}[$__rate_interval]))',
                     "{{service}} {{http_route}} {{http_response_status_code}}")], "reqps",
                    "Not errors for the SLO, but 401s (refused tokens) and 429s (rate limits) show here."), 12, 8),
                (timeseries("Error budget burn rate", [
                    (f"service:http_server_request_errors:ratio_rate1h{{{s}}} / 0.005", "{{service}} errors 1h"),
                    (f"service:http_server_request_errors:ratio_rate6h{{{s}}} / 0.005", "{{service}} errors 6h"),
                    (f"service:http_server_request_slow:ratio_rate1h{{{s}}} / 0.01", "{{service}} latency 1h"),
                    (f"service:http_server_request_slow:ratio_rate6h{{{s}}} / 0.01", "{{service}} latency 6h")],
                    "short", "1 spends the budget in exactly 30 days. The page lines: 14.4 (1h), 6 (6h).",
                    lines=[(6, "orange"), (14.4, "red")], minimum=0), 12, 8),
            ]),
            ("Duration", [
                (timeseries("Duration percentiles", [
                    (f"histogram_quantile(0.50, sum by (service, le) (rate({bucket}[$__rate_interval])))", "{{service}} p50"),
                    (f"histogram_quantile(0.90, sum by (service, le) (rate({bucket}[$__rate_interval])))", "{{service}} p90"),
                    (f"histogram_quantile(0.99, sum by (service, le) (rate({bucket}[$__rate_interval])))", "{{service}} p99")],
                    "s", lines=[(0.25, "red")]), 12, 8),
                (timeseries("p99 by route", [
                    (f"histogram_quantile(0.99, sum by (service, http_route, le) (rate({bucket}[$__rate_interval])))",
                     "{{service}} {{http_route}}")], "s", lines=[(0.25, "red")]), 12, 8),
                (timeseries("Requests within 250 ms", [
                    (f"1 - service:http_server_request_slow:ratio_rate5m{{{s}}}", "{{service}} 5m"),
                    (f"1 - service:http_server_request_slow:ratio_rate1h{{{s}}}", "{{service}} 1h")],
                    "percentunit", "The latency SLI; the objective is 99%.", lines=[(0.99, "red")]), 12, 8),
                (timeseries("Slowest routes by time spent", [
                    (f"topk(10, sum by (service, http_route) (rate(http_server_request_duration_seconds_sum{{{s}, {API}}}[$__rate_interval])))",
                     "{{service}} {{http_route}}")], "s",
                    "Seconds of handling per second (busy handlers): where the time goes."), 12, 8),
            ]),
            ("Process", [
                (timeseries("CPU", [(f"rate(process_cpu_seconds_total{{{s}}}[$__rate_interval])", "{{service}} {{instance}}")],
                            "short", "Cores in use. Embedded (flotilla run) the whole process reports under the gateway."), 6, 7),
                (timeseries("Resident memory", [(f"process_resident_memory_bytes{{{s}}}", "{{service}} {{instance}}")], "bytes"), 6, 7),
                (timeseries("Open file descriptors", [(f"process_open_fds{{{s}}}", "{{service}} {{instance}}")]), 6, 7),
                (timeseries("Uptime", [(f"time() - process_start_time_seconds{{{s}}}", "{{service}} {{instance}}")], "s"), 6, 7),
                (table("Builds running", [(f"flotilla_build_info{{{s}}}", "")],
                       "Which version and commit each instance runs."), 24, 6),
            ]),
        ],
    )


def messaging():
    s = 'service=~"$service"'
    sc = 'service=~"$service", consumer=~"$consumer"'
    return dashboard(
        "flotilla-messaging",
        "Flotilla / Messaging",
        "The outbox relay publishing what each service committed, consumers handling it, and the "
        "dead letters they gave up on (crates/messaging).",
        [
            query_variable("service", "Service", "label_values(flotilla_outbox_backlog_messages, service)"),
            query_variable("consumer", "Consumer", 'label_values(flotilla_consumer_backlog_messages{service=~"$service"}, consumer)'),
        ],
        [
            ("Outbox and relay", [
                (timeseries("Outbox backlog", [(f"max by (service) (flotilla_outbox_backlog_messages{{{s}}})", "{{service}}")],
                            "short", "Outbox rows committed and not yet published.", minimum=0), 8, 8),
                (timeseries("Oldest unpublished row", [
                    (f"max by (service) (flotilla_outbox_oldest_pending_age_seconds{{{s}}})", "{{service}}")],
                    "s", "OutboxBacklogOld pages above 60 s.", lines=[(60, "red")], minimum=0), 8, 8),
                (timeseries("Relay failures", [
                    (f"sum by (service) (rate(flotilla_outbox_relay_failures_total{{{s}}}[$__rate_interval]))", "{{service}}")],
                    "short", "Relay rounds a second that failed (bus or database away)."), 8, 8),
                (timeseries("Messages sent by type", [
                    (f"sum by (service, message_type) (rate(messaging_client_sent_messages_total{{{s}}}[$__rate_interval]))",
                     "{{service}} {{message_type}}")], "short", "Messages a second the relay handed to the bus."), 16, 8),
                (timeseries("Timers fired", [
                    (f"sum by (service) (rate(flotilla_timers_fired_total{{{s}}}[$__rate_interval]))", "{{service}}")],
                    "short", "Durable timers a second that came due (saga step timeouts, stock holds, carrier steps)."), 8, 8),
            ]),
            ("Consumers", [
                (timeseries("Handled", [
                    (f"sum by (consumer, outcome) (rate(messaging_client_consumed_messages_total{{{sc}}}[$__rate_interval]))",
                     "{{consumer}} {{outcome}}")], "short", "Messages a second each consumer finished; duplicate: already applied, skipped."), 12, 8),
                (timeseries("Backlog", [(f"max by (consumer) (flotilla_consumer_backlog_messages{{{sc}}})", "{{consumer}}")],
                            "short", "Messages the bus holds that the consumer has not handled yet.", minimum=0), 12, 8),
                (timeseries("Lag", [
                    (f"max by (consumer, message_type) (flotilla_message_lag_seconds{{{sc}}})", "{{consumer}} {{message_type}}")],
                    "s", "From a message's creation to its last handling. The saga's steps time out at 30 s.",
                    lines=[(30, "red")], minimum=0), 12, 8),
                (timeseries("Processing time p99", [
                    (f"histogram_quantile(0.99, sum by (consumer, message_type, le) (rate(messaging_process_duration_seconds_bucket{{{sc}}}[$__rate_interval])))",
                     "{{consumer}} {{message_type}}")], "s"), 12, 8),
                (timeseries("Failed attempts", [
                    (f"sum by (consumer, kind) (rate(flotilla_messages_failed_total{{{sc}}}[$__rate_interval]))", "{{consumer}} {{kind}}")],
                    "short", "Handler attempts a second that failed: transient ones are retried, permanent ones dead-lettered."), 24, 7),
            ]),
            ("Dead letters", [
                # Every replica samples the same table: max per consumer, then the sum.
                (stat("Dead letters stored", [(f"sum(max by (service, consumer) (flotilla_dead_letters{{{sc}}}))", "")], "short",
                      "Messages given up on and kept: `flotilla dlq list`.", [(1, "red")]), 6, 7),
                (timeseries("Dead letters by consumer", [(f"max by (consumer) (flotilla_dead_letters{{{sc}}})", "{{consumer}}")],
                            "short", minimum=0), 9, 7),
                (timeseries("Dead-lettered by reason", [
                    (f"sum by (consumer, reason) (increase(flotilla_messages_dead_lettered_total{{{sc}}}[$__rate_interval]))",
                     "{{consumer}} {{reason}}")], "short", "undecodable, rejected by the handler, or exhausted (every attempt failed)."), 9, 7),
            ]),
        ],
        tags=["messaging"],
    )


def identity_gateway():
    s = 'service=~"$service"'
    up = 'upstream=~"$upstream"'
    return dashboard(
        "flotilla-identity-gateway",
        "Flotilla / Identity and gateway",
        "Tokens every service checks (and why it refuses them), the identity provider's API, and the "
        "gateway's upstreams, breakers, retries and rate limits.",
        [
            query_variable("service", "Service", "label_values(flotilla_auth_token_verifications_total, service)"),
            query_variable("upstream", "Upstream", "label_values(flotilla_gateway_upstream_requests_total, upstream)"),
        ],
        [
            ("Tokens", [
                (timeseries("Token verifications by outcome", [
                    (f"sum by (outcome) (rate(flotilla_auth_token_verifications_total{{{s}}}[$__rate_interval]))", "{{outcome}}")],
                    "short", "accepted, or why a bearer token was refused."), 12, 8),
                (timeseries("Refused tokens by service and reason", [
                    (f'sum by (service, outcome) (rate(flotilla_auth_token_verifications_total{{{s}, outcome!="accepted"}}[$__rate_interval]))',
                     "{{service}} {{outcome}}")], "short"), 12, 8),
                (timeseries("401 ratio", [
                    (f'sum by (service) (rate(http_server_request_duration_seconds_count{{{s}, http_response_status_code="401"}}[$__rate_interval])) / sum by (service) (rate(http_server_request_duration_seconds_count{{{s}, {API}}}[$__rate_interval]))',
                     "{{service}}")], "percentunit", "UnauthorizedRateHigh pages above 20%.", lines=[(0.2, "red")], minimum=0), 12, 8),
                (timeseries("Key set (JWKS) fetches", [
                    (f"sum by (service, outcome) (rate(flotilla_auth_jwks_fetches_total{{{s}}}[$__rate_interval]))", "{{service}} {{outcome}}")],
                    "short", "Fetches of the issuer's signing keys; failed ones leave tokens with new keys unverifiable."), 12, 8),
            ]),
            ("Identity", [
                (timeseries("Identity requests by route and status", [
                    ('sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{service="identity", '
                     + API + "}[$__rate_interval]))", "{{http_route}} {{http_response_status_code}}")], "reqps"), 12, 8),
                (timeseries("Identity p99 by route", [
                    ('histogram_quantile(0.99, sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket{service="identity", '
                     + API + "}[$__rate_interval])))", "{{http_route}}")], "s",
                    "Sign-in hashes passwords (argon2id) and is slow by design.", lines=[(0.25, "red")]), 12, 8),
            ]),
            ("Gateway", [
                (timeseries("Upstream requests by outcome", [
                    (f'sum by (upstream, outcome) (rate(flotilla_gateway_upstream_requests_total{{service="gateway", {up}}}[$__rate_interval]))',
                     "{{upstream}} {{outcome}}")], "reqps", "ok, server_error, timeout, unreachable, circuit_open."), 12, 8),
                (timeseries("Upstream p99", [
                    (f'histogram_quantile(0.99, sum by (upstream, le) (rate(http_client_request_duration_seconds_bucket{{service="gateway", {up}}}[$__rate_interval])))',
                     "{{upstream}}")], "s"), 12, 8),
                (timeseries("Rate limited", [
                    ('sum by (service) (rate(flotilla_gateway_rate_limited_total{service="gateway"}[$__rate_interval]))', "429s")],
                    "reqps", "Requests refused with 429 because a client exceeded its rate."), 8, 7),
                (timeseries("Gateway responses by status", [
                    ('sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{service="gateway", '
                     + API + "}[$__rate_interval]))", "{{http_response_status_code}}")], "reqps", stack=True), 16, 7),
            ]),
            ("Dependencies", [
                (timeseries("Circuit breakers", [
                    ("max by (service, dependency) (flotilla_circuit_breaker_state)", "{{service}} → {{dependency}}")],
                    "short", "0 closed, 1 half-open, 2 open. CircuitOpen pages when one has not closed for 5 minutes.",
                    lines=[(2, "red")], minimum=0,
                    mappings=[{"type": "value", "options": {
                        "0": {"text": "closed", "color": "green", "index": 0},
                        "1": {"text": "half-open", "color": "orange", "index": 1},
                        "2": {"text": "open", "color": "red", "index": 2}}}]), 12, 8),
                (timeseries("Retries", [
                    ("sum by (service, dependency) (rate(flotilla_retries_total[$__rate_interval]))", "{{service}} → {{dependency}}")],
                    "short", "Calls a second sent again after a failure."), 12, 8),
                (timeseries("Payment provider calls", [
                    ('sum by (call, outcome) (rate(payments_provider_calls_total{service="payments"}[$__rate_interval]))', "{{call}} {{outcome}}")],
                    "short", "done, not_done (retried), unknown (asked after), circuit_open."), 24, 7),
            ]),
        ],
        tags=["identity", "gateway"],
    )


def ordering_saga():
    o = 'service="ordering"'
    checkout = 'service="ordering", http_request_method="POST", http_route="/api/v1/ordering/orders"'
    return dashboard(
        "flotilla-ordering-saga",
        "Flotilla / Checkout saga",
        "Orders through the checkout saga (reserve stock, authorize payment, commit stock, capture, "
        "then the carrier): how many get how far, how they end, how long each step takes, and whether any is stuck.",
        [],
        [
            ("Funnel (over the time range)", [
                (bargauge("Checkout funnel", [
                    (f'sum(increase(http_server_request_duration_seconds_count{{{checkout}, http_response_status_code=~"2.."}}[$__range]))', "checkouts accepted"),
                    (f'sum by (step) (increase(flotilla_saga_step_duration_seconds_count{{{o}, step=~"reserving|authorizing|committing|capturing|confirmed"}}[$__range]))',
                     "left {{step}}"),
                    (f'sum(increase(flotilla_orders_total{{{o}, outcome="shipped"}}[$__range]))', "shipped"),
                    (f'sum(increase(flotilla_orders_total{{{o}, outcome="rejected"}}[$__range]))', "rejected"),
                    (f'sum(increase(flotilla_orders_total{{{o}, outcome="cancelled"}}[$__range]))', "cancelled")],
                    "short", "Checkouts accepted, orders leaving each forward step (reserving stock, authorizing, "
                    "committing stock, capturing, confirmed and waiting for the carrier), and how orders ended, over "
                    "the dashboard's time range."), 12, 10),
                (stat("Shipped", [
                    (f'sum(increase(flotilla_orders_total{{{o}, outcome="shipped"}}[$__range])) / sum(increase(flotilla_orders_total{{{o}}}[$__range]))', "")],
                    "percentunit", "Share of the orders that ended in the time range that shipped (the others were rejected or cancelled).", [], 1), 6, 5),
                (stat("Oldest open saga", [(f"max(flotilla_saga_oldest_open_age_seconds{{{o}}})", "")], "s",
                      "Age of the oldest order not yet shipped, rejected or cancelled. SagaStuck pages above 10 minutes.",
                      [(180, "orange"), (600, "red")]), 6, 5),
                (stat("Rejected by reason", [
                    (f'sum by (reason) (increase(flotilla_orders_total{{{o}, outcome="rejected"}}[$__range]))', "{{reason}}")],
                    "short", "out_of_stock, payment_declined, payment_failed, timed_out."), 12, 5),
            ]),
            ("Outcomes", [
                (timeseries("Orders ended, by outcome", [
                    (f"sum by (outcome) (rate(flotilla_orders_total{{{o}}}[$__rate_interval]))", "{{outcome}}")], "short", stack=True), 12, 8),
                (timeseries("Rejections by reason", [
                    (f'sum by (reason) (rate(flotilla_orders_total{{{o}, outcome="rejected"}}[$__rate_interval]))', "{{reason}}")],
                    "short", "timed_out means a participant did not answer a step within 30 s.", stack=True), 12, 8),
                (timeseries("Checkout requests by status", [
                    (f"sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{{{checkout}}}[$__rate_interval]))",
                     "{{http_response_status_code}}")], "reqps"), 12, 8),
                (timeseries("Checkout request p99", [
                    (f"histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{{{checkout}}}[$__rate_interval])))", "p99")],
                    "s", "Reads the basket with ordering's service token, then commits the order.", lines=[(0.25, "red")]), 12, 8),
            ]),
            ("Steps", [
                (timeseries("Step duration p50 and p99", [
                    (f"histogram_quantile(0.50, sum by (step, le) (rate(flotilla_saga_step_duration_seconds_bucket{{{o}}}[$__rate_interval])))", "{{step}} p50"),
                    (f"histogram_quantile(0.99, sum by (step, le) (rate(flotilla_saga_step_duration_seconds_bucket{{{o}}}[$__rate_interval])))", "{{step}} p99")],
                    "s", "Time spent in each phase, from entering it to leaving it. A forward step times out at 30 s; confirmed waits for the carrier.", lines=[(30, "red")]), 12, 8),
                (timeseries("Oldest open saga", [(f"max(flotilla_saga_oldest_open_age_seconds{{{o}}})", "oldest open")],
                            "s", lines=[(600, "red")], minimum=0), 12, 8),
                (timeseries("Participants' lag", [
                    ('max by (consumer) (flotilla_message_lag_seconds{service=~"ordering|inventory|payments"})', "{{consumer}}")],
                    "s", "How late ordering, inventory and payments handle the saga's messages.", lines=[(30, "red")], minimum=0), 12, 8),
                (timeseries("Timers fired", [
                    ('sum by (service) (rate(flotilla_timers_fired_total{service=~"ordering|inventory"}[$__rate_interval]))', "{{service}}")],
                    "short", "Step timeouts (ordering) and lapsed stock holds (inventory) coming due."), 12, 8),
            ]),
        ],
        tags=["ordering"],
    )


DASHBOARDS = {
    "red.json": red,
    "messaging.json": messaging,
    "identity-gateway.json": identity_gateway,
    "ordering-saga.json": ordering_saga,
}


def render(make):
    return json.dumps(make(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, make in DASHBOARDS.items():
        path = OUT / name
        text = render(make)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale (run python3 scripts/observability/dashboards.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if check:
        print(f"{len(DASHBOARDS)} dashboards, each equal to what this script generates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
