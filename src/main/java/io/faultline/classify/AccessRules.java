package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.SecurityFailure.Type;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;
import java.util.Map;

/**
 * SECURITY {@code unauthorized_model_access}: a provider refused our credentials (401/403), or LiteLLM refused the
 * caller's virtual key or its access to a model. A provider refusal breaks every call of the deployment, so it ranks
 * above a client knocking with a bad key.
 */
@ApplicationScoped
public class AccessRules implements CallRule {

    static final String PROXY = "litellm";
    static final String PROXY_DEPLOYMENT = "litellm-proxy";

    private final SeverityPolicy severities;

    public AccessRules(SeverityPolicy severities) {
        this.severities = severities;
    }

    @Override
    public List<Failure> apply(LlmCall call) {
        if (call.success() || !ProviderRules.isAccessDenied(call)) {
            return List.of();
        }
        boolean proxy = "litellm".equals(call.provider()) || ProviderRules.isProxyKeyRefusal(call);
        Severity base = severities.base(Type.UNAUTHORIZED_MODEL_ACCESS);
        Severity severity = proxy ? base : base.max(Severity.P2);
        if (proxy) {
            // The proxy refused the caller before any provider was called: an episode of LiteLLM's own, apart from
            // the provider refusing our credentials for the same deployment.
            return List.of(CallFailures.of(Type.UNAUTHORIZED_MODEL_ACCESS, call, PROXY, PROXY_DEPLOYMENT,
                    "proxy.auth", severity, Map.of("refused_by", PROXY, "routed_to", call.deployment())));
        }
        return List.of(CallFailures.of(Type.UNAUTHORIZED_MODEL_ACCESS, call, "provider.status", severity,
                Map.of("refused_by", "provider")));
    }
}
