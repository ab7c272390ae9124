"""`/`: a landing page that says what this service is and where its docs are."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

# Links are relative, so the page works behind a proxy that serves Kizuna under a prefix.
_PAGE = """\
<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kizuna</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
         padding: 0 1rem; line-height: 1.6; color: #222; }
  h1 { margin-bottom: 0; }
  .en { color: #555; }
  code { background: #f3f3f3; padding: 0 .25rem; }
</style>
</head>
<body>
<h1>Kizuna 絆</h1>
<p>メール・電話・ダイレクトメール・SNS のキャンペーンを、
ひとつの接触頻度ポリシーのもとで届けます。</p>
<p class="en" lang="en">Campaigns across email, phone, direct mail and social networks, under
one contact-frequency policy for every campaign and channel.</p>
<h2>API</h2>
<ul>
  <li><a href="docs">API ドキュメント</a>
    <span class="en" lang="en">API docs (Swagger UI)</span></li>
  <li><a href="redoc">リファレンス</a> <span class="en" lang="en">reference (ReDoc)</span></li>
  <li><a href="openapi.json">OpenAPI</a> <span class="en" lang="en">the OpenAPI document</span></li>
</ul>
<p>API キーを <code>Authorization: Bearer &lt;key&gt;</code> で送ります。最初の管理者キーは
<code>kizuna keys create --name NAME --scope admin</code> で作ります。</p>
<p class="en" lang="en">Send an API key as <code>Authorization: Bearer &lt;key&gt;</code>; make the
first admin key with <code>kizuna keys create --name NAME --scope admin</code>.</p>
<h2>運用 <span class="en" lang="en">Operations</span></h2>
<ul>
  <li><a href="healthz">healthz</a> <span class="en" lang="en">liveness</span></li>
  <li><a href="readyz">readyz</a> <span class="en" lang="en">readiness</span></li>
  <li><a href="metrics">metrics</a> <span class="en" lang="en">Prometheus metrics</span></li>
</ul>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse)
async def landing_page() -> HTMLResponse:
    """What Kizuna is, with links to its docs and its operations endpoints."""
    return HTMLResponse(_PAGE)
