"""/api/series and /api/series.csv: the numbers behind an /explore chart (same parameters
as the page's URL), for scripts and spreadsheets."""
from __future__ import annotations

import math
import time

from flask import Response, jsonify, request

from ..series.build import build_series, series_csv
from ..series.spec import parse_spec
from ..services import current
from . import api


def _requested():
    now = time.time()
    return build_series(current().store.engine, parse_spec(request.args.to_dict(flat=False),
                                                          now), now)


@api.get("/api/series")
def series_json():
    series = _requested()
    rows = [[moment, *(None if math.isnan(value) else value for value in values)]
            for moment, values in zip(series.frame.index, series.frame.to_numpy().tolist())]
    return jsonify(metric=series.spec.metric, group=series.spec.group, unit=series.unit,
                   start=series.start, end=series.end, bucket_seconds=series.bucket,
                   columns=["bucket_start", *map(str, series.frame.columns)], rows=rows)


@api.get("/api/series.csv")
def series_download():
    series = _requested()
    name = f"{series.spec.metric}{'_by_' + series.spec.group if series.spec.group else ''}"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(series.start))
    headers = {"Content-Disposition": f'attachment; filename="{name}_{stamp}.csv"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(series_csv(series), mimetype="text/csv", headers=headers)
