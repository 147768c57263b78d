"""Each catalog family: hosts and requests that must classify, and look-alikes that must not.

Positives come from the family's rules file. Negatives are the hard cases: the vendor's
non-AI hosts, shared infrastructure, other paths on a console or SaaS host that carries an
AI signature, public suffixes of preview domains, and names that merely contain an AI domain.
"""

from __future__ import annotations

import pytest

from shadowlens.proxy.catalog import HostIndex, load_catalog
from shadowlens.proxy.catalog.classify import classify_request
from tests.conftest import RULES_DIR

# family -> (url or "METHOD url", expected service id)
POSITIVES: dict[str, list[tuple[str, str]]] = {
    "llm-observability": [
        ("https://api.langwatch.ai/api/collector", "langwatch"),
        ("https://api.traceloop.com/v1/traces", "traceloop"),
        ("https://api.lmnr.ai/v1/traces", "laminar"),
        ("https://api.honeyhive.ai/session/start", "honeyhive"),
        ("https://app.getmaxim.ai/", "maxim-ai"),
        ("https://api.promptfoo.app/", "promptfoo"),
        ("https://api.lakera.ai/v2/guard", "lakera"),
    ],
    "agent-sandboxes": [
        ("https://app.daytona.io/api/sandbox", "daytona"),
        ("https://api.runloop.ai/v1/devboxes", "runloop"),
        ("https://api.riza.io/v1/execute", "riza"),
        ("https://api.scrapybara.com/v1/instance", "scrapybara"),
        ("https://connect.anchorbrowser.io/", "anchor-browser"),
        ("https://api.airtop.ai/api/v1/sessions", "airtop"),
    ],
    "mcp-servers": [
        ("https://server.smithery.ai/@x/mcp", "smithery"),
        ("https://glama.ai/mcp/servers", "glama"),
        ("https://registry.modelcontextprotocol.io/v0/servers", "mcp-registry"),
        ("https://mcp.context7.com/mcp", "context7"),
        ("https://docs.mcp.cloudflare.com/sse", "cloudflare-mcp"),
        ("https://mcp.neon.tech/mcp", "neon-mcp"),
        ("https://mcp.paypal.com/sse", "paypal-mcp"),
        ("https://mcp.apify.com/", "apify-mcp"),
    ],
    "agent-search": [
        ("https://google.serper.dev/search", "serper"),
        ("https://api.search.brave.com/res/v1/web/search", "brave-search-api"),
        ("https://api.ydc-index.io/search", "you-search-api"),
        ("https://api.scrapegraphai.com/v1/smartscraper", "scrapegraph-ai"),
        ("https://api.diffbot.com/v3/article", "diffbot"),
    ],
    "microsoft-copilot": [
        ("https://copilot.cloud.microsoft/", "microsoft-365-copilot-chat"),
        (
            "POST https://default0a1b.02.environment.api.powerplatform.com"
            "/copilotstudio/dataverse-backed/authenticated/bots/cr_x/conversations",
            "copilot-studio-runtime",
        ),
        (
            "POST https://api.powerplatform.com/powervirtualagents/dataverse-backed/x",
            "copilot-studio-runtime",
        ),
        ("https://directline.botframework.com/v3/directline/conversations", "bot-framework"),
        ("https://europe.directline.botframework.com/v3/directline/tokens", "bot-framework"),
        ("https://powerva.microsoft.com/", "copilot-studio-preview"),
        ("https://securitycopilot.microsoft.com/", "security-copilot"),
        ("https://www.bing.com/images/create?q=cat", "bing-image-creator"),
    ],
    "browser-assistants": [
        ("POST https://ai-chat.bsg.brave.com/v1/chat/completions", "brave-leo"),
        ("POST https://ai-chat-premium.bsg.brave.com/v1/complete", "brave-leo"),
        ("https://kagi.com/assistant?q=x", "kagi-assistant"),
        ("https://edgeservices.bing.com/edgesvc/chat", "copilot-edge-sidebar"),
    ],
    "ai-app-builders": [
        ("https://my-app.lovable.app/", "lovable"),
        ("https://4f1c0de.lovableproject.com/", "lovable"),
        ("https://a1b2-00-c3d4.picard.replit.dev/", "replit"),
        ("https://todo.replit.app/", "replit"),
        ("https://kzmx1.lite.vusercontent.net/", "v0"),
        ("https://deck-4xk2.manus.space/", "manus-space"),
        ("https://crm-app.base44.app/", "base44-apps"),
        ("https://chef.convex.dev/", "convex-chef"),
        ("https://www.claudeusercontent.com/", "claude-artifacts"),
    ],
    "workflow-ai": [
        ("https://agents.zapier.com/bots/1/settings", "zapier-agents"),
        ("POST https://ai-assistant.n8n.io/v1/ai-credits/proxy/v1/chat", "n8n-ai-assistant"),
        ("https://mcp.pipedream.net/v2", "pipedream-mcp"),
        ("https://remote.mcp.pipedream.net/v3", "pipedream-mcp"),
    ],
    "regional-model-consoles": [
        ("https://us-east-1.console.aws.amazon.com/bedrock/home", "aws-bedrock-console"),
        ("https://console.cloud.google.com/vertex-ai/studio", "vertex-ai-console"),
        ("https://console.bce.baidu.com/qianfan/overview", "baidu-qianfan-console"),
        ("https://console.cloud.tencent.com/hunyuan", "tencent-hunyuan-console"),
        ("https://console.volcengine.com/ark/region:ark+cn-beijing/", "volcengine-ark-console"),
        ("POST https://ark.ap-southeast.bytepluses.com/api/v3/chat", "byteplus-modelark"),
        ("https://console.huaweicloud.com/modelarts/?region=x", "huawei-modelarts"),
        ("https://modelstudio.console.alibabacloud.com/", "alibaba-model-studio-intl"),
        ("https://clovastudio.stream.ntruss.com/testapp/v3/chat", "naver-clova-studio"),
        ("https://api.scaleway.ai/v1/chat/completions", "scaleway-generative-apis"),
    ],
    "gpu-inference-clouds": [
        ("https://console.coreweave.com/", "coreweave"),
        ("https://api.parasail.io/v1/chat/completions", "parasail"),
        ("https://api.kluster.ai/v1/chat/completions", "kluster-ai"),
        ("https://api.tensorwave.com/", "tensorwave"),
    ],
    "vector-databases": [
        ("https://cloud.lancedb.com/", "lancedb"),
        ("https://gcp-us-central1.turbopuffer.com/v1/namespaces", "turbopuffer"),
        ("https://api.ragie.ai/documents", "ragie"),
        ("https://api.supermemory.ai/v3/memories", "supermemory"),
    ],
    "model-hubs": [
        ("https://hf-mirror.com/api/models", "hf-mirror"),
        ("https://ai.gitee.com/serverless-api", "gitee-ai"),
        ("https://openxlab.org.cn/models", "openxlab"),
        ("https://lobehub.com/", "lobehub"),
    ],
    "customer-support-ai": [
        ("https://app.siena.cx/", "siena-ai"),
        ("https://api.docsbot.ai/teams", "docsbot"),
    ],
    "legal-ai": [("https://app.legora.com/", "legora"), ("https://app.eve.legal/", "eve-legal")],
    "healthcare-ai": [("https://app.corti.ai/", "corti"), ("https://www.tortus.ai/", "tortus")],
    "education-ai": [("https://www.khanmigo.ai/", "khanmigo")],
    "hr-recruiting-ai": [("https://app.hirevue.com/", "hirevue")],
    "translation-ai": [("https://app.lilt.com/", "lilt")],
}

# family -> urls (or "METHOD url") that must not classify as any service
NEGATIVES: dict[str, list[str]] = {
    "llm-observability": [
        "https://browser-intake-datadoghq.com/api/v2/rum",
        "https://api.honeycomb.io/1/events/x",
        "https://o1.ingest.sentry.io/api/1/envelope/",
        "https://langfuse.com.attacker.example/",
        "https://notlangwatch.ai/",
    ],
    "agent-sandboxes": [
        "https://codesandbox.io/",
        "https://stackblitz.com/",
        "https://abc--5173--x.local-credentialless.webcontainer-api.io/",
        "https://my-app.fly.dev/",
        "https://daytona.io.example.net/",
    ],
    "mcp-servers": [
        "https://www.paypal.com/checkoutnow",
        "https://api-m.paypal.com/v2/checkout/orders",
        "https://console.neon.tech/",
        "https://dash.cloudflare.com/",
        "https://modelcontextprotocol.io/docs",
        "https://mcp.example.com/mcp",
    ],
    "agent-search": [
        "https://search.brave.com/search?q=x",
        "https://brave.com/download/",
        "https://www.google.com/search?q=x",
    ],
    "microsoft-copilot": [
        "https://outlook.office.com/mail/",
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "https://cloud.microsoft/",
        "https://default0a1b.02.environment.api.powerplatform.com/powerapps/apps",
        "https://api.powerplatform.com/appmanagement/environments",
        "https://www.bing.com/search?q=x",
        "https://www.bing.com/images/search?q=cat",
    ],
    "browser-assistants": [
        "https://brave.com/",
        "https://go-updater.brave.com/extensions",
        "https://kagi.com/search?q=x",
        "https://edgeservices.bing.com/edgesvc/ntp",
    ],
    "ai-app-builders": [
        "https://lovable.app/",
        "https://my-app.vercel.app/",
        "https://my-app.netlify.app/",
        "https://convex.dev/",
        "https://happy-otter-123.convex.cloud/api/query",
        "https://stackblitz.com/edit/x",
    ],
    "workflow-ai": [
        "https://zapier.com/app/zaps",
        "https://hooks.zapier.com/hooks/catch/1/x/",
        "https://n8n.io/",
        "https://acme.app.n8n.cloud/webhook/x",
        "https://pipedream.com/",
        "https://eo1a2b3c.m.pipedream.net/",
        "https://hook.eu1.make.com/abc",
    ],
    "regional-model-consoles": [
        "https://us-east-1.console.aws.amazon.com/ec2/home",
        "https://console.cloud.google.com/compute/instances",
        "https://console.bce.baidu.com/bos/",
        "https://console.cloud.tencent.com/cvm",
        "https://console.volcengine.com/ecs/",
        "https://console.huaweicloud.com/ecm/",
        "https://api.scaleway.com/instance/v1/zones",
        "https://s3.eu-west-1.amazonaws.com/bucket/key",
    ],
    "gpu-inference-clouds": [
        "https://cloud.digitalocean.com/",
        "https://api.linode.com/v4/linode/instances",
        "https://ec2.us-east-1.amazonaws.com/",
    ],
    "vector-databases": [
        "https://acme.es.us-east-1.aws.elastic.cloud/",
        "https://x-dsn.algolia.net/1/indexes",
    ],
    "model-hubs": [
        "https://gitee.com/",
        "https://pypi.org/simple/torch/",
        "https://ghcr.io/v2/",
    ],
    "customer-support-ai": [
        "https://acme.zendesk.com/api/v2/tickets",
        "https://api.intercom.io/conversations",
    ],
    "legal-ai": ["https://www.lexisnexis.com/"],
    "healthcare-ai": ["https://www.epic.com/"],
    "education-ai": ["https://www.khanacademy.org/", "https://www.duolingo.com/"],
    "hr-recruiting-ai": ["https://www.linkedin.com/jobs/"],
    "translation-ai": ["https://translate.google.com/"],
}


@pytest.fixture(scope="module")
def catalog() -> HostIndex:
    return load_catalog(RULES_DIR)


def _classify(catalog: HostIndex, target: str) -> str | None:
    method, _, url = target.rpartition(" ")
    match = classify_request(catalog, url, method=method or "GET", headers={})
    return match.service.id if match else None


def test_every_family_has_a_rules_file_and_both_kinds_of_case(catalog: HostIndex) -> None:
    families = {s.family for s in catalog.services.values()}
    assert POSITIVES.keys() == NEGATIVES.keys()
    assert POSITIVES.keys() <= families


@pytest.mark.parametrize("family", sorted(POSITIVES))
def test_family_positives_classify_to_their_service(catalog: HostIndex, family: str) -> None:
    for target, expected in POSITIVES[family]:
        assert _classify(catalog, target) == expected, target
        assert catalog.services[expected].family in {family, "code-assistants"}, expected


@pytest.mark.parametrize("family", sorted(NEGATIVES))
def test_family_hard_negatives_do_not_classify(catalog: HostIndex, family: str) -> None:
    for target in NEGATIVES[family]:
        assert _classify(catalog, target) is None, target
