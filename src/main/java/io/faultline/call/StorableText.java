package io.faultline.call;

import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Makes what ingest stores acceptable to PostgreSQL: NUL (refused by {@code text}, and as the escape {@code \u0000}
 * by {@code jsonb}) and lone UTF-16 surrogates (UTF-8 cannot encode them; the driver would turn them into '?')
 * become U+FFFD in every stored string, map key and JSON value. All other code points are valid UTF-8 and accepted.
 * One pass per string, no copy when nothing is replaced. The in-memory {@code CallContent} is left as it was: the
 * content detectors read the raw text (a NUL inside an injection attempt is itself a signal).
 * <p>
 * Not thread-safe: one instance per batch, which collects the replacements per stored field for the metric.
 */
final class StorableText {

    static final char REPLACEMENT = '\uFFFD';

    private Map<String, Integer> replaced;

    /** Replacements made so far, by field (column name, or {@code evidence}); empty when the batch was clean. */
    Map<String, Integer> replaced() {
        return replaced == null ? Map.of() : replaced;
    }

    /** The call with every stored string made storable; the same instance when nothing had to change. */
    LlmCall call(LlmCall c) {
        String callId = text("call_id", c.callId());
        String traceId = text("trace_id", c.traceId());
        String provider = text("provider", c.provider());
        String model = text("model", c.model());
        String modelGroup = text("model_group", c.modelGroup());
        String deployment = text("deployment", c.deployment());
        String apiBase = text("api_base", c.apiBase());
        String callType = text("call_type", c.callType());
        String errorClass = text("error_class", c.errorClass());
        String errorCode = text("error_code", c.errorCode());
        String errorMessage = text("error_message", c.errorMessage());
        String finishReason = text("finish_reason", c.finishReason());
        String userRef = text("user_ref", c.userRef());
        String teamId = text("team_id", c.teamId());
        String apiKeyHash = text("api_key_hash", c.apiKeyHash());
        Map<String, String> headers = headers(c.rateLimitHeaders());
        Map<String, Object> metadata = json("requester_metadata", c.requesterMetadata());
        if (callId == c.callId() && traceId == c.traceId() && provider == c.provider() && model == c.model()
                && modelGroup == c.modelGroup() && deployment == c.deployment() && apiBase == c.apiBase()
                && callType == c.callType() && errorClass == c.errorClass() && errorCode == c.errorCode()
                && errorMessage == c.errorMessage() && finishReason == c.finishReason() && userRef == c.userRef()
                && teamId == c.teamId() && apiKeyHash == c.apiKeyHash() && headers == c.rateLimitHeaders()
                && metadata == c.requesterMetadata()) {
            return c;
        }
        return new LlmCall(callId, traceId, c.startedAt(), c.endedAt(), provider, model, modelGroup, deployment,
                apiBase, callType, c.stream(), c.success(), c.httpStatus(), errorClass, errorCode, errorMessage,
                c.latencyMs(), c.ttftMs(), c.promptTokens(), c.completionTokens(), c.reasoningTokens(),
                c.cachedTokens(), c.costUsd(), c.cacheHit(), finishReason, c.responseChars(), c.responseParsed(),
                userRef, teamId, apiKeyHash, headers, metadata, c.thinkingCostUsd(), c.content(),
                c.budgetEntity(), c.inputCostPerToken(), c.outputCostPerToken(),
                c.cacheReadCostPerToken(), c.errorDetails(), c.proxyId());
    }

    /**
     * The failure with storable strings. Evidence can quote caller text that the content detectors saw raw; the
     * scope is taken from the (already storable) call but is checked too, as rules may build it themselves.
     */
    Failure failure(Failure f) {
        String provider = text("provider", f.provider());
        String deployment = text("deployment", f.deployment());
        Map<String, Object> evidence = json("evidence", f.evidence());
        ImpactScope s = f.impactScope();
        ImpactScope scope = s == null ? null : scope(s);
        if (provider == f.provider() && deployment == f.deployment() && evidence == f.evidence() && scope == s) {
            return f;
        }
        return Failure.of(f.type(), f.failureId(), f.timestamp(), f.severity(), provider, deployment,
                f.detectionMethod(), evidence, scope);
    }

    private ImpactScope scope(ImpactScope s) {
        String model = text("model", s.model());
        String modelGroup = text("model_group", s.modelGroup());
        String callId = text("call_id", s.callId());
        String userRef = text("user_ref", s.userRef());
        String teamId = text("team_id", s.teamId());
        String traceId = text("trace_id", s.traceId());
        return model == s.model() && modelGroup == s.modelGroup() && callId == s.callId() && userRef == s.userRef()
                && teamId == s.teamId() && traceId == s.traceId() ? s
                : new ImpactScope(model, modelGroup, callId, userRef, teamId, traceId, s.callStartedAt());
    }

    /** The text with NUL and lone surrogates replaced, or the same instance when it has none. */
    String text(String field, String value) {
        if (value == null) {
            return null;
        }
        int first = firstUnstorable(value);
        if (first < 0) {
            return value;
        }
        int n = value.length();
        StringBuilder out = new StringBuilder(n).append(value, 0, first);
        int count = 0;
        for (int i = first; i < n; i++) {
            char c = value.charAt(i);
            if (c == 0) {
                out.append(REPLACEMENT);
                count++;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(value.charAt(i + 1))) {
                out.append(c).append(value.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                out.append(REPLACEMENT);
                count++;
            } else {
                out.append(c);
            }
        }
        count(field, count);
        return out.toString();
    }

    /** Index of the first NUL or lone surrogate, or -1. */
    static int firstUnstorable(String value) {
        int n = value.length();
        for (int i = 0; i < n; i++) {
            char c = value.charAt(i);
            if (c != 0 && c < Character.MIN_SURROGATE) {
                continue;
            }
            if (c == 0) {
                return i;
            }
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(value.charAt(i + 1))) {
                    i++;
                } else {
                    return i;
                }
            }
        }
        return -1;
    }

    private Map<String, String> headers(Map<String, String> headers) {
        if (headers == null || headers.isEmpty()) {
            return headers;
        }
        Map<String, String> out = null;
        for (Map.Entry<String, String> e : headers.entrySet()) {
            String key = text("rate_limit_headers", e.getKey());
            String value = text("rate_limit_headers", e.getValue());
            if (out == null && (key != e.getKey() || value != e.getValue())) {
                out = new TreeMap<>();
                for (Map.Entry<String, String> before : headers.entrySet()) {
                    if (before.getKey().equals(e.getKey())) {
                        break;
                    }
                    out.put(before.getKey(), before.getValue());
                }
            }
            if (out != null) {
                out.put(key, value);
            }
        }
        return out == null ? headers : out;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> json(String field, Map<String, Object> map) {
        return map == null ? null : (Map<String, Object>) jsonValue(field, map);
    }

    /**
     * Strings, keys, maps and collections made storable; other values (numbers, booleans, null) as they are. The
     * depth is bounded by the parser's nesting limit (requester metadata) or by the detectors (evidence).
     */
    private Object jsonValue(String field, Object value) {
        if (value instanceof String s) {
            return text(field, s);
        }
        if (value instanceof Map<?, ?> map) {
            Map<Object, Object> out = null;
            int done = 0;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                Object key = e.getKey() instanceof String k ? text(field, k) : e.getKey();
                Object v = jsonValue(field, e.getValue());
                if (out == null && (key != e.getKey() || v != e.getValue())) {
                    out = new LinkedHashMap<>();
                    int i = 0;
                    for (Map.Entry<?, ?> before : map.entrySet()) {
                        if (i++ == done) {
                            break;
                        }
                        out.put(before.getKey(), before.getValue());
                    }
                }
                if (out != null) {
                    out.put(key, v);
                }
                done++;
            }
            return out == null ? map : out;
        }
        if (value instanceof Collection<?> list) {
            List<Object> out = null;
            int i = 0;
            for (Object item : list) {
                Object v = jsonValue(field, item);
                if (out == null && v != item) {
                    out = new ArrayList<>(list.size());
                    int j = 0;
                    for (Object before : list) {
                        if (j++ == i) {
                            break;
                        }
                        out.add(before);
                    }
                }
                if (out != null) {
                    out.add(v);
                }
                i++;
            }
            return out == null ? list : out;
        }
        return value;
    }

    private void count(String field, int count) {
        if (count > 0) {
            if (replaced == null) {
                replaced = new TreeMap<>();
            }
            replaced.merge(field, count, Integer::sum);
        }
    }
}
