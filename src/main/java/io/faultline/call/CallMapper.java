package io.faultline.call;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.faultline.common.Redactor;
import io.faultline.common.StorableTime;
import io.faultline.content.CallContent;
import io.faultline.content.ContentConfig;
import io.faultline.content.ContentExtractor;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Maps one LiteLLM {@code StandardLoggingPayload} (as the generic_api logger or the Faultline plugin sends it) to an
 * {@link LlmCall}. Known fields are type-checked so that a wrong type names the field; unknown fields are ignored
 * because LiteLLM adds fields in every release.
 */
@ApplicationScoped
public class CallMapper {

    static final int MAX_ID_LENGTH = 200;
    static final int MAX_TEXT_LENGTH = 300;
    /**
     * The most tokens one call may report per count (a hundred times the largest context window sold today). Each
     * number is checked alone, but the stores sum them: bigint token sums over a window, float8 and numeric cost
     * sums over a budget period. Counts and costs at these caps keep every such sum finite for billions of calls;
     * without them two calls reporting 9e18 tokens or $1.7e308 overflowed the sums and failed the jobs reading them.
     */
    static final long MAX_TOKENS = 1_000_000_000L;
    /** The most one call may cost, in USD. */
    static final double MAX_COST_USD = 1_000_000;
    static final int MAX_METADATA_BYTES = 4096;
    /** Longest text value of {@code requester_metadata} kept (masked). */
    private static final int MAX_METADATA_TEXT = 512;
    /** {@code requester_metadata} keys whose values are identifiers that features join on, kept as sent. */
    private static final Set<String> TOP_LEVEL_IDS = Set.of("batch_id", "job_id");
    /** The same inside {@code requester_metadata.retrieval}: the index a sample is of. */
    private static final Set<String> RETRIEVAL_IDS = Set.of("index");
    /**
     * LiteLLM budget kinds whose id the request names: the end user ({@code user}, customer-id headers) and request
     * tags. The others (key, team, user, team member, organisation, project) are set by LiteLLM's admin.
     */
    private static final Set<String> CALLER_NAMED_BUDGETS = Set.of("end_user", "tag");
    /** The longest provider name stored as it is. */
    public static final int MAX_PROVIDER_LABEL = 40;
    private static final Pattern LABEL_SAFE = Pattern.compile("[a-z0-9_.-]{1," + MAX_PROVIDER_LABEL + "}");
    private static final String PROVIDER_HEADER_PREFIX = "llm_provider-";
    private static final int MAX_HEADER_CHARS = 64;

    /** Exception classes of LiteLLM and the HTTP status they stand for, when the payload carries no status. */
    private static final Map<String, Integer> STATUS_BY_ERROR_CLASS = Map.ofEntries(
            Map.entry("BadRequestError", 400), Map.entry("ContextWindowExceededError", 400),
            Map.entry("ContentPolicyViolationError", 400), Map.entry("AuthenticationError", 401),
            Map.entry("PermissionDeniedError", 403), Map.entry("NotFoundError", 404), Map.entry("Timeout", 408),
            Map.entry("UnprocessableEntityError", 422), Map.entry("RateLimitError", 429),
            Map.entry("InternalServerError", 500), Map.entry("BadGatewayError", 502),
            Map.entry("ServiceUnavailableError", 503));

    /** The {@code requester_metadata} keys kept by default: those features read ({@code faultline.ingest}). */
    public static final List<String> DEFAULT_METADATA_KEYS = List.of("batch_id", "job_id",
            "retrieval");

    private static final String RETRIEVAL = "retrieval";
    /** The fields of a retrieval sample ({@code RetrievalMetadataRule}); nothing else of the object is stored. */
    private static final List<String> RETRIEVAL_FIELDS = List.of("index", "top_score",
            "mean_score", "hits", "k");

    private final ObjectMapper json;
    private final ContentConfig contentConfig;
    private final ContentExtractor content;
    private final Set<String> keptMetadataKeys;

    /** With the default allow-list of {@code requester_metadata} keys. */
    public CallMapper(ObjectMapper json, ContentConfig contentConfig) {
        this(json, contentConfig, DEFAULT_METADATA_KEYS);
    }

    @jakarta.inject.Inject
    public CallMapper(ObjectMapper json, ContentConfig contentConfig, IngestConfig ingest) {
        this(json, contentConfig, ingest.requesterMetadataKeys());
    }

    CallMapper(ObjectMapper json, ContentConfig contentConfig, List<String> keptMetadataKeys) {
        this.json = json;
        this.contentConfig = contentConfig;
        this.content = new ContentExtractor(contentConfig.maxRequestChars(), contentConfig.maxAnswerChars());
        this.keptMetadataKeys = Set.copyOf(keptMetadataKeys.stream().map(String::strip)
                .filter(k -> !k.isEmpty()).toList());
    }

    public LlmCall map(JsonNode payload) {
        if (payload == null || !payload.isObject()) {
            throw new InvalidPayloadException("$", "expected a StandardLoggingPayload object");
        }
        // LiteLLM's call id is the idempotency key: on a success `id` is the provider's response id, which a
        // provider (or a cache hit) can repeat across distinct calls; `id` is the fallback for older senders.
        String idField = payload.hasNonNull("litellm_call_id") ? "litellm_call_id" : "id";
        String callId = requiredText(payload, idField);
        if (callId.length() > MAX_ID_LENGTH) {
            throw new InvalidPayloadException(idField, "longer than " + MAX_ID_LENGTH + " characters");
        }
        String status = requiredText(payload, "status");
        boolean success = switch (status) {
            case "success" -> true;
            case "failure" -> false;
            default -> throw new InvalidPayloadException("status", "must be 'success' or 'failure', was '"
                    + Redactor.mask(status, 40) + "'");
        };
        double start = time("startTime", requiredNumber(payload, "startTime"));
        Double end = time("endTime", optionalNumber(payload, "endTime"));
        Double completionStart = time("completionStartTime", optionalNumber(payload, "completionStartTime"));
        if (end == null || end < start) {
            end = start;
        }
        JsonNode error = object(payload, "error_information");
        JsonNode hidden = object(payload, "hidden_params");
        JsonNode metadata = object(payload, "metadata");
        JsonNode plugin = object(payload, "faultline");
        JsonNode response = payload.get("response");

        String provider = provider(text(payload, "custom_llm_provider"), text(error, "llm_provider"),
                text(payload, "model"));
        String model = limit(text(payload, "model"), MAX_ID_LENGTH);
        // LiteLLM logs a request its router resolved to no group (an unknown model) with model_group "": that is no
        // group, and the request belongs to its model, as one logged without a group does (SLOs, budgets, windows).
        String modelGroup = limit(firstNonBlank(text(payload, "model_group")), MAX_ID_LENGTH);
        String deployment = firstNonBlank(text(payload, "model_id"), text(hidden, "model_id"));
        if (deployment == null) {
            // LiteLLM routed the call to none of its deployments (it refused it, or knows no such model): the model
            // names are the request's, whatever the caller wrote there, and are masked like any text it sends.
            model = Redactor.maskModelName(model, MAX_ID_LENGTH);
            modelGroup = Redactor.maskModelName(modelGroup, MAX_ID_LENGTH);
            deployment = provider + ":" + (model == null ? "unknown" : model);
        }
        String errorClass = limit(firstNonBlank(text(error, "error_class"), text(plugin, "exception_class")), 100);
        String errorCode = limit(text(error, "error_code"), 100);
        String errorMessage = firstNonBlank(text(error, "error_message"), text(payload, "error_str"));
        boolean stream = bool(payload, "stream", false);

        JsonNode usage = response != null ? response.path("usage") : null;
        ResponseShape shape = ResponseShape.of(response);

        Map<String, String> headers = new TreeMap<>();
        collectHeaders(hidden == null ? null : hidden.get("additional_headers"), headers);
        collectHeaders(plugin == null ? null : plugin.get("response_headers"), headers);

        double latencyMs = Math.max(0, (end - start) * 1000.0);
        Double ttftMs = stream && completionStart != null && completionStart > start
                ? (completionStart - start) * 1000.0 : null;

        return new LlmCall(
                callId,
                limit(text(payload, "trace_id"), MAX_ID_LENGTH),
                instant(start),
                instant(end),
                provider,
                model,
                modelGroup,
                limit(deployment, MAX_ID_LENGTH),
                apiBase(firstNonBlank(text(payload, "api_base"), text(hidden, "api_base"))),
                limit(text(payload, "call_type"), 60),
                stream,
                success,
                httpStatus(plugin, errorCode, errorClass, success),
                errorClass,
                errorCode,
                storedErrorMessage(errorMessage),
                latencyMs,
                ttftMs,
                count(payload, "prompt_tokens"),
                count(payload, "completion_tokens"),
                usageCount(usage, "completion_tokens_details", "reasoning_tokens"),
                usageCount(usage, "prompt_tokens_details", "cached_tokens"),
                cost(payload, "response_cost"),
                payload.hasNonNull("cache_hit") ? bool(payload, "cache_hit", false) : null,
                limit(shape.finishReason(), 40),
                shape.chars(),
                shape.parsed(),
                limit(userRef(metadata), MAX_ID_LENGTH),
                limit(text(metadata, "user_api_key_team_id"), MAX_ID_LENGTH),
                limit(text(metadata, "user_api_key_hash"), MAX_ID_LENGTH),
                headers,
                requesterMetadata(metadata),
                thinkingCost(object(payload, "cost_breakdown"), usageCount(usage, "completion_tokens_details",
                        "reasoning_tokens"), count(payload, "completion_tokens")),
                contentConfig.enabled() ? content.extract(payload) : CallContent.NONE,
                success ? null : budgetEntity(error),
                price(payload, "input_cost_per_token"),
                price(payload, "output_cost_per_token"),
                price(payload, "cache_read_input_token_cost"),
                success ? ProviderErrorDetails.NONE : ProviderErrorDetails.read(errorMessage),
                proxyId(text(plugin, "proxy_id")));
    }

    /** The longest proxy id stored, in characters: a label's, as a provider's name. */
    static final int MAX_PROXY_ID_LENGTH = MAX_PROVIDER_LABEL;
    /** What a longer proxy id keeps of itself before a dash and its CRC-32 (8 hex digits). */
    private static final int PROXY_ID_PREFIX = MAX_PROXY_ID_LENGTH - 9;

    /**
     * The proxy that made the call ({@code faultline.proxy_id}, the plugin's FAULTLINE_PROXY_ID or host name) as a
     * label: trimmed, lower case, each character outside {@code [a-z0-9_.-]} replaced by {@code _}. One of more
     * than 40 characters keeps its first 31, a dash and the CRC-32 of the whole trimmed lower-case name, so that two
     * long host names sharing a prefix stay two proxies. The plugin sends it sanitised the same way
     * (faultline_callback.proxy_label), and a sanitised id is kept as it is. Absent or blank: null, the one default
     * proxy of the senders that name none (older plugins, LiteLLM's generic_api logger).
     */
    static String proxyId(String raw) {
        if (raw == null || raw.isBlank()) {
            return null;
        }
        String name = raw.strip().toLowerCase(Locale.ROOT);
        if (LABEL_SAFE.matcher(name).matches()) {
            return name;
        }
        StringBuilder label = new StringBuilder(MAX_PROXY_ID_LENGTH);
        int length = 0;
        for (int i = 0; i < name.length(); i += Character.charCount(name.codePointAt(i))) {
            int c = name.codePointAt(i);
            if (length < MAX_PROXY_ID_LENGTH) {
                boolean safe = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-';
                label.append(safe ? (char) c : '_');
            }
            length++;
        }
        if (length <= MAX_PROXY_ID_LENGTH) {
            return label.toString();
        }
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return label.substring(0, PROXY_ID_PREFIX) + "-" + String.format("%08x", crc.getValue());
    }

    /**
     * The deployment's endpoint without what may hold a credential: user info ({@code https://user:key@host}), the
     * query ({@code ?api-key=…}, Gemini's {@code ?key=…}) and the fragment are dropped. LiteLLM's
     * {@code api_base} is the URL an operator configured, and gateways are often given their key in it.
     */
    static String apiBase(String raw) {
        if (raw == null) {
            return null;
        }
        String url = raw.length() > 2048 ? raw.substring(0, 2048) : raw;
        int end = url.length();
        int query = url.indexOf('?');
        int fragment = url.indexOf('#');
        if (query >= 0) {
            end = query;
        }
        if (fragment >= 0 && fragment < end) {
            end = fragment;
        }
        url = url.substring(0, end);
        int scheme = url.indexOf("://");
        int hostStart = scheme < 0 ? 0 : scheme + 3;
        int path = url.indexOf('/', hostStart);
        int authorityEnd = path < 0 ? url.length() : path;
        int at = url.lastIndexOf('@', authorityEnd - 1);
        if (at >= hostStart) {
            url = url.substring(0, hostStart) + url.substring(at + 1);
        }
        return limit(url, MAX_ID_LENGTH);
    }

    /** A price per token from LiteLLM's model map ({@code model_map_information.model_map_value}); null if absent. */
    static Double price(JsonNode payload, String field) {
        JsonNode value = payload.path("model_map_information").path("model_map_value").get(field);
        if (value == null || !value.isNumber()) {
            return null;
        }
        double v = value.doubleValue();
        return Double.isFinite(v) && v >= 0 && v < 1 ? v : null;
    }

    /**
     * The budget LiteLLM enforced when it refused the call ({@code error_budget_entity_type:error_budget_entity_id},
     * e.g. {@code team:search}; LiteLLM 1.108 sets them on every {@code BudgetExceededError}), or null. The id of a
     * budget whose subject the caller names ({@link #CALLER_NAMED_BUDGETS}) is masked: it becomes the episode's
     * deployment and fingerprint and is shown in its evidence, and an end user's label is often an e-mail.
     */
    static String budgetEntity(JsonNode error) {
        String type = text(error, "error_budget_entity_type");
        if (type == null || type.isBlank()) {
            return null;
        }
        String id = text(error, "error_budget_entity_id");
        String kind = type.strip();
        if (id != null && CALLER_NAMED_BUDGETS.contains(kind.toLowerCase(Locale.ROOT))) {
            id = Redactor.mask(id, MAX_ID_LENGTH);
        }
        return limit(kind + ":" + (id == null ? "" : id), MAX_ID_LENGTH);
    }

    /**
     * The error message as stored, and as every rule judges it: masked and cut at {@link #MAX_TEXT_LENGTH}, and
     * followed by Google's status word when the stored part lost it. LiteLLM's prefixes and Gemini's message put
     * {@code RESOURCE_EXHAUSTED} near the 290th character: cut off, a Gemini rate limit that LiteLLM reported with a
     * 500, a 503 or no status was an outage to the classifier and the predictor alike.
     */
    static String storedErrorMessage(String errorMessage) {
        String stored = Redactor.mask(withoutQuotedResponse(errorMessage), MAX_TEXT_LENGTH);
        String status = ProviderErrorDetails.googleStatus(errorMessage);
        return stored == null || status == null || stored.contains(status) ? stored : stored + " status: " + status;
    }

    /** LiteLLM quotes the provider's raw answer after "Original Response:"; answers are never stored. */
    static String withoutQuotedResponse(String message) {
        if (message == null) {
            return null;
        }
        int at = message.indexOf("Original Response:");
        return at < 0 ? message : message.substring(0, at) + "Original Response: [omitted]";
    }

    /**
     * Cost of reasoning/thinking tokens: LiteLLM's {@code cost_breakdown.reasoning_cost} when it priced them apart,
     * else their share of {@code output_cost} (thinking is billed as output tokens by all three providers).
     */
    static double thinkingCost(JsonNode breakdown, long reasoningTokens, long completionTokens) {
        if (breakdown == null || reasoningTokens <= 0) {
            return 0;
        }
        // Like the call's cost, a breakdown beyond MAX_COST_USD (or 1e400, which Jackson reads as infinity) is left
        // out: it feeds a counter that would stay infinite for the life of the process.
        JsonNode reasoning = breakdown.get("reasoning_cost");
        if (reasoning != null && reasoning.isNumber() && reasoning.doubleValue() > 0
                && reasoning.doubleValue() <= MAX_COST_USD) {
            return reasoning.doubleValue();
        }
        JsonNode output = breakdown.get("output_cost");
        if (output != null && output.isNumber() && completionTokens > 0 && output.doubleValue() >= 0
                && output.doubleValue() <= MAX_COST_USD) {
            return output.doubleValue() * Math.min(1.0, (double) reasoningTokens / completionTokens);
        }
        return 0;
    }

    private static String provider(String custom, String fromError, String model) {
        String raw = firstNonBlank(custom, fromError);
        if (raw == null && model != null && model.contains("/")) {
            raw = model.substring(0, model.indexOf('/'));
        }
        if (raw == null) {
            // No provider at all means LiteLLM refused the call itself (bad key, unknown model, its own limits).
            return "litellm";
        }
        String normalized = raw.trim().toLowerCase(Locale.ROOT);
        return isProviderLabel(normalized) ? normalized : "other";
    }

    /** Whether a trimmed, lower-case provider name is one Faultline stores as it is (else it records "other"). */
    public static boolean isProviderLabel(String normalized) {
        return LABEL_SAFE.matcher(normalized).matches();
    }

    private static Integer httpStatus(JsonNode plugin, String errorCode, String errorClass, boolean success) {
        if (plugin != null && plugin.path("http_status").canConvertToInt() && plugin.path("http_status").isNumber()) {
            return plugin.get("http_status").intValue();
        }
        if (success) {
            return 200;
        }
        if (errorCode != null && errorCode.matches("\\d{3}")) {
            return Integer.parseInt(errorCode);
        }
        return errorClass == null ? null : STATUS_BY_ERROR_CLASS.get(errorClass);
    }

    private static void collectHeaders(JsonNode node, Map<String, String> into) {
        if (node == null || !node.isObject()) {
            return;
        }
        node.fields().forEachRemaining(entry -> {
            String name = entry.getKey().toLowerCase(Locale.ROOT);
            if (name.startsWith(PROVIDER_HEADER_PREFIX)) {
                name = name.substring(PROVIDER_HEADER_PREFIX.length());
            }
            // LiteLLM's typed header fields use underscores (x_ratelimit_remaining_tokens).
            name = name.replace('_', '-');
            if (isRateLimitHeader(name) && headerName(name) && entry.getValue().isValueNode()
                    && !entry.getValue().isNull()) {
                into.putIfAbsent(name, headerValue(entry.getValue().asText()));
            }
        });
    }

    /** A header name as providers write them: at most 64 characters of a-z, 0-9 and '-' (stored as a JSON key). */
    private static boolean headerName(String name) {
        if (name.length() > MAX_HEADER_CHARS) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    /**
     * A count is kept as sent (a 9-digit token limit is no card number); any other value is masked like every stored
     * text the sender wrote: providers send counts, durations and dates here, never personal data or keys.
     */
    private static String headerValue(String value) {
        String cut = limit(value, MAX_HEADER_CHARS);
        for (int i = 0; i < cut.length(); i++) { // what is stored: 64 KiB of a hostile value is not read whole
            char c = cut.charAt(i);
            if (!(c >= '0' && c <= '9' || c == '.')) {
                String masked = Redactor.mask(value, MAX_HEADER_CHARS);
                // Nothing masked: kept as sent, so that storage replaces (and counts) a NUL or a lone surrogate.
                return masked.equals(Redactor.storable(cut)) ? cut : masked;
            }
        }
        return cut;
    }

    static boolean isRateLimitHeader(String name) {
        return name.startsWith("x-ratelimit-") || name.startsWith("anthropic-ratelimit-")
                || name.equals("retry-after") || name.equals("retry-after-ms") || name.equals("x-should-retry");
    }

    /**
     * The identity a call is charged to: the LiteLLM user that owns the virtual key ({@code user_api_key_user_id},
     * set by an admin when the key was made), else the key itself. The request's {@code user} (LiteLLM's
     * {@code end_user} and {@code user_api_key_end_user_id}, also taken from customer-id headers) is chosen by the
     * caller on every request, so it is a label, never an identity: believing it would let anyone charge their spend
     * to someone else's budget or dodge their own. LiteLLM 1.108 strips caller-sent {@code user_api_key_*} metadata
     * before logging, so these fields are the proxy's.
     */
    static String userRef(JsonNode metadata) {
        String user = text(metadata, "user_api_key_user_id");
        if (user != null && !user.isBlank()) {
            return user;
        }
        String keyHash = text(metadata, "user_api_key_hash");
        return keyHash == null || keyHash.isBlank() ? null
                : "key:" + keyHash.substring(0, Math.min(16, keyHash.length()));
    }

    /**
     * Keeps only the allow-listed keys of {@code requester_metadata} ({@code faultline.ingest.requester-metadata-keys}),
     * each text value masked: callers write what they like there (a note, a customer's e-mail, a pasted key).
     */
    private Map<String, Object> requesterMetadata(JsonNode metadata) {
        JsonNode requester = metadata == null ? null : metadata.get("requester_metadata");
        if (requester == null || !requester.isObject() || requester.isEmpty()) {
            return Map.of();
        }
        ObjectNode kept = json.createObjectNode();
        for (String key : keptMetadataKeys) {
            JsonNode value = requester.get(key);
            if (value != null && !value.isNull()) {
                kept.set(key, RETRIEVAL.equals(key) ? retrieval(value) : value);
            }
        }
        if (kept.isEmpty()) {
            return Map.of();
        }
        try {
            byte[] bytes = json.writeValueAsBytes(kept);
            if (bytes.length > MAX_METADATA_BYTES) {
                return Map.of("_dropped", "requester_metadata larger than " + MAX_METADATA_BYTES + " bytes");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> map = json.convertValue(masked(kept, 0, TOP_LEVEL_IDS), LinkedHashMap.class);
            return map;
        } catch (Exception e) {
            return Map.of("_dropped", "requester_metadata not serialisable");
        }
    }

    /**
     * {@code requester_metadata.retrieval} as kept: an object reduced to its sample's fields; a list (the hits, as
     * applications log them) reduced the same way item by item, a nested list dropped. A list of hits carries each
     * passage the model was given and the user's query: kept masked, their words were stored until 2026-12-07.
     */
    private JsonNode retrieval(JsonNode value) {
        if (value.isObject()) {
            return retrievalSample(value);
        }
        if (!value.isArray()) {
            return value;
        }
        ArrayNode hits = json.createArrayNode();
        for (JsonNode item : value) {
            if (item.isObject()) {
                hits.add(retrievalSample(item));
            } else if (!item.isContainerNode()) {
                hits.add(item);
            }
        }
        return hits;
    }

    /**
     * Of {@code requester_metadata.retrieval}, the sample's fields the retrieval windows and the causal chains read:
     * applications put the whole retrieval there (the user's query, the retrieved passages), which is prompt and
     * grounding text, analysed in memory and never stored; masked, it was still kept.
     */
    private ObjectNode retrievalSample(JsonNode retrieval) {
        ObjectNode sample = json.createObjectNode();
        for (String field : RETRIEVAL_FIELDS) {
            JsonNode value = retrieval.get(field);
            if (value != null && !value.isNull()) {
                sample.set(field, value);
            }
        }
        return sample;
    }

    /**
     * Callers write whatever they like into {@code requester_metadata} (a note, a customer's e-mail, a pasted key):
     * every text value and every field name is masked before it is kept, except the identifiers features join on:
     * the top-level {@code batch_id} and {@code job_id} and a retrieval sample's {@code index}. Until 2026-12-07 that
     * exemption held at any depth ({@code {"job_id": {"batch_id": "<e-mail>"}}}) and field names were kept as sent.
     * The metadata is at most {@code MAX_METADATA_BYTES}, so this stays cheap and linear.
     */
    private JsonNode masked(JsonNode node, int depth, Set<String> ids) {
        if (depth > 64 || !node.isContainerNode()) {
            return node;
        }
        if (node.isArray()) {
            ArrayNode out = json.createArrayNode();
            for (JsonNode item : node) {
                out.add(item.isTextual() ? maskedText(item) : masked(item, depth + 1, ids));
            }
            return out;
        }
        ObjectNode out = json.createObjectNode();
        var fields = node.fields();
        while (fields.hasNext()) {
            var field = fields.next();
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (ids.contains(name)) {
                // An identifier: a text or a number, kept as sent; anything else is no identifier and is dropped.
                if (value.isValueNode()) {
                    out.set(name, value);
                }
                continue;
            }
            Set<String> inner = depth == 0 && RETRIEVAL.equals(name) ? RETRIEVAL_IDS : Set.of();
            out.set(Redactor.mask(name, MAX_METADATA_TEXT),
                    value.isTextual() ? maskedText(value) : masked(value, depth + 1, inner));
        }
        return out;
    }

    private static JsonNode maskedText(JsonNode text) {
        return TextNode.valueOf(Redactor.mask(text.textValue(), MAX_METADATA_TEXT));
    }

    private static JsonNode object(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isObject()) {
            throw new InvalidPayloadException(field, "expected an object, got " + kind(value));
        }
        return value;
    }

    private static String requiredText(JsonNode node, String field) {
        String value = text(node, field);
        if (value == null || value.isBlank()) {
            throw new InvalidPayloadException(field, "required");
        }
        return value;
    }

    static String text(JsonNode node, String field) {
        if (node == null) {
            return null;
        }
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isTextual()) {
            return value.textValue();
        }
        if (value.isNumber() || value.isBoolean()) {
            return value.asText();
        }
        throw new InvalidPayloadException(field, "expected a string, got " + kind(value));
    }

    private static double requiredNumber(JsonNode node, String field) {
        Double value = optionalNumber(node, field);
        if (value == null) {
            throw new InvalidPayloadException(field, "required (epoch seconds)");
        }
        return value;
    }

    private static Double optionalNumber(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        double number;
        if (value.isNumber()) {
            number = value.doubleValue();
        } else if (value.isTextual()) {
            try {
                number = Double.parseDouble(value.textValue());
            } catch (NumberFormatException e) {
                throw new InvalidPayloadException(field, "expected a number, got '" + Redactor.mask(value.textValue(), 40)
                        + "'");
            }
        } else {
            throw new InvalidPayloadException(field, "expected a number, got " + kind(value));
        }
        if (Double.isNaN(number) || Double.isInfinite(number) || number < 0) {
            throw new InvalidPayloadException(field, "must be a finite number >= 0");
        }
        return number;
    }

    /** Epoch seconds within {@link StorableTime}'s range (milliseconds sent as seconds land far beyond it). */
    private static Double time(String field, Double seconds) {
        if (seconds != null && !StorableTime.containsEpochSeconds(seconds)) {
            throw new InvalidPayloadException(field, "must be epoch seconds within " + StorableTime.RANGE + " (at most "
                    + StorableTime.LATEST.getEpochSecond() + "), was " + seconds);
        }
        return seconds;
    }

    private static long count(JsonNode node, String field) {
        Double value = optionalNumber(node, field);
        if (value != null && value > MAX_TOKENS) {
            throw new InvalidPayloadException(field, "must be at most " + MAX_TOKENS + " tokens, was " + value);
        }
        return value == null ? 0 : value.longValue();
    }

    private static double cost(JsonNode node, String field) {
        Double value = optionalNumber(node, field);
        if (value != null && value > MAX_COST_USD) {
            throw new InvalidPayloadException(field, "must be at most " + (long) MAX_COST_USD
                    + " USD for one call, was " + value);
        }
        return value == null ? 0.0 : value;
    }

    private static long usageCount(JsonNode usage, String details, String field) {
        if (usage == null || !usage.isObject()) {
            return 0;
        }
        // A detail of the provider's answer, not a count the call is stored by: one out of range is left out.
        JsonNode value = usage.path(details).path(field);
        return value.isNumber() && value.longValue() > 0 && value.doubleValue() <= MAX_TOKENS ? value.longValue() : 0;
    }

    private static boolean bool(JsonNode node, String field, boolean fallback) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isBoolean()) {
            throw new InvalidPayloadException(field, "expected true or false, got " + kind(value));
        }
        return value.booleanValue();
    }

    private static Instant instant(double epochSeconds) {
        long micros = Math.round(epochSeconds * 1_000_000d);
        return Instant.ofEpochSecond(micros / 1_000_000, (micros % 1_000_000) * 1000);
    }

    private static String firstNonBlank(String... values) {
        for (String value : values) {
            if (value != null && !value.isBlank()) {
                return value;
            }
        }
        return null;
    }

    private static String limit(String value, int max) {
        return value == null || value.length() <= max ? value : value.substring(0, max);
    }

    private static String kind(JsonNode value) {
        return value.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    /**
     * What the classifier needs to know about the answer without keeping it. Its finish reason is LiteLLM's, except
     * where LiteLLM maps a provider's failure to {@code stop} (or to {@code tool_calls} when the candidate holds
     * calls): Gemini's native reasons in {@link #NATIVE_FAILURES}
     * (kept by LiteLLM in {@code provider_specific_fields.native_finish_reason}, unstreamed calls only) stand, lower
     * case ({@code malformed_function_call}).
     */
    record ResponseShape(String finishReason, int chars, boolean parsed) {

        /** Gemini finish reasons LiteLLM 1.108 maps to {@code stop} that say the answer failed. */
        static final Set<String> NATIVE_FAILURES = Set.of("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL",
                "TOO_MANY_TOOL_CALLS", "MALFORMED_RESPONSE");

        static ResponseShape of(JsonNode response) {
            if (response == null || response.isNull()) {
                return new ResponseShape(null, 0, false);
            }
            if (response.isTextual()) {
                return new ResponseShape(null, response.textValue().length(), false);
            }
            if (response.path("output").isArray() && "response".equals(response.path("object").asText())) {
                return ofResponses(response);
            }
            JsonNode choices = response.path("choices");
            if (!choices.isArray() || choices.isEmpty()) {
                // Embeddings and other call types have no choices; they parsed if they are an object with data.
                return new ResponseShape(null, 0, response.isObject() && response.has("data"));
            }
            JsonNode first = choices.get(0);
            String finish = first.path("finish_reason").isTextual() ? first.get("finish_reason").textValue() : null;
            String nativeFinish = first.path("provider_specific_fields").path("native_finish_reason").asText("");
            // With calls in the candidate LiteLLM says tool_calls (or function_call) whatever Gemini said.
            if (("stop".equals(finish) || "tool_calls".equals(finish) || "function_call".equals(finish))
                    && NATIVE_FAILURES.contains(nativeFinish)) {
                finish = nativeFinish.toLowerCase(Locale.ROOT);
            }
            JsonNode message = first.path("message");
            int chars = message.path("content").isTextual() ? message.get("content").textValue().length() : 0;
            if (chars == 0 && message.path("tool_calls").isArray() && !message.get("tool_calls").isEmpty()) {
                chars = message.get("tool_calls").toString().length();
            }
            return new ResponseShape(finish, chars, true);
        }

        /**
         * An answer of OpenAI's Responses API: its {@code status} stands for the finish reason (an incomplete one
         * for its {@code incomplete_details.reason}: {@code max_output_tokens} is chat's {@code length},
         * {@code content_filter} the same), and its length is that of the output text, refusals and function
         * call arguments. A background response still {@code queued} or {@code in_progress} is
         * {@link #PENDING}: nothing to judge yet.
         */
        static ResponseShape ofResponses(JsonNode response) {
            String status = response.path("status").asText("");
            int chars = 0;
            boolean calls = false;
            for (JsonNode item : response.get("output")) {
                String type = item.path("type").asText("");
                if ("function_call".equals(type)) {
                    calls = true;
                    chars += item.path("arguments").asText("").length();
                } else if ("message".equals(type)) {
                    for (JsonNode part : item.path("content")) {
                        chars += part.path("text").asText(part.path("refusal").asText("")).length();
                    }
                }
            }
            String finish = switch (status) {
                case "completed" -> calls ? "tool_calls" : "stop";
                case "incomplete" -> {
                    String reason = response.path("incomplete_details").path("reason").asText("");
                    yield "max_output_tokens".equals(reason) ? "length" : reason.isEmpty() ? "incomplete" : reason;
                }
                case "queued", "in_progress" -> PENDING;
                default -> status.isEmpty() ? null : status;
            };
            return new ResponseShape(finish, chars, true);
        }
    }

    /** The finish reason of a background response not yet finished. */
    public static final String PENDING = "in_progress";
}
