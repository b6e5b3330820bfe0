package io.faultline.content;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.PathType;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import com.networknt.schema.regex.RegularExpression;
import com.networknt.schema.regex.RegularExpressionFactory;
import com.networknt.schema.resource.AllowSchemaLoader;
import io.faultline.common.Redactor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checks an answer against the {@code response_format} the request asked for: it must be one JSON value (an object
 * for {@code json_object}) and, for {@code json_schema}, valid against the schema with a real JSON Schema validator
 * (draft 2020-12, networknt). Schemas may only reference themselves: a {@code $ref} to a URL is never fetched,
 * because the schema comes from the caller and fetching it would let any caller make Faultline call out.
 *
 * <p>The caller's {@code pattern}s and {@code patternProperties} run on RE2/J, in time linear in the answer (on
 * java.util.regex, {@code "^(.*a){10}$"} took 8 s on a 36-character answer). A pattern RE2/J cannot run
 * (backreferences, look-around) or one that would compile to a huge program is not applied, and the evidence says
 * how many were skipped. An answer nested deeper than {@link FormatConfig#maxAnswerDepth()} is not validated at all:
 * a self-referencing schema ({@code $ref: "#"}) would recurse once per level.
 */
public final class StructuredOutputValidator {

    /** Why an answer is not the requested structured output. */
    public enum Reason {
        TRUNCATED("truncated"), EMPTY("empty"), NOT_JSON("not_json"), CODE_FENCE("code_fence"),
        NOT_AN_OBJECT("not_an_object"), SCHEMA_VIOLATION("schema_violation"), TOO_DEEP("too_deep");

        private final String code;

        Reason(String code) {
            this.code = code;
        }

        public String code() {
            return code;
        }
    }

    /**
     * The outcome: empty when the answer complies.
     *
     * @param skippedPatterns caller patterns of the schema that were not applied (not runnable in linear time)
     * @param depth           for {@code too_deep}, how deep the answer is nested
     */
    public record Violation(Reason reason, List<String> errors, int errorCount, int skippedPatterns, int depth) {

        public Violation(Reason reason, List<String> errors, int errorCount) {
            this(reason, errors, errorCount, 0, 0);
        }
    }

    /** Caller patterns longer than this are not compiled. */
    static final int MAX_PATTERN_CHARS = 1000;
    /**
     * Largest program a caller pattern may expand to, counting each counted repetition's copies: RE2/J has no such
     * bound of its own, and {@code ((a{1000}){1000}){1000}} exhausts the heap while it compiles.
     */
    static final long MAX_PATTERN_SIZE = 20_000;

    private final ObjectMapper json = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private final JsonSchemaFactory schemas;
    private final Map<String, Optional<Compiled>> compiled;
    private final FormatConfig config;

    public StructuredOutputValidator(FormatConfig config) {
        this.config = config;
        // Only the validator's own meta-schemas (classpath) may be loaded; any other IRI is refused.
        this.schemas = JsonSchemaFactory.builder(JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012))
                .schemaLoaders(loaders -> loaders.values(list -> list.add(0,
                        new AllowSchemaLoader(iri -> iri.toString().startsWith("classpath:")))))
                .build();
        int capacity = Math.max(1, config.schemaCacheSize());
        this.compiled = Collections.synchronizedMap(new LinkedHashMap<>(capacity, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Optional<Compiled>> eldest) {
                return size() > capacity;
            }
        });
    }

    /** Compiled schemas held (the cache is synchronized). */
    public int cachedSchemas() {
        return compiled.size();
    }

    /**
     * Checks one answer. {@code finishReason} {@code length} means the provider cut the answer off at the token
     * limit, which breaks structured output however the prefix looks.
     */
    public Optional<Violation> check(CallContent.ResponseFormat format, String answer, String finishReason) {
        if (format == null || !format.structured()) {
            return Optional.empty();
        }
        if ("length".equals(finishReason)) {
            return violation(Reason.TRUNCATED);
        }
        if (answer == null || answer.isBlank()) {
            return violation(Reason.EMPTY);
        }
        String text = answer;
        String unfenced = unfenced(answer);
        boolean fenced = unfenced != null;
        if (fenced) {
            text = unfenced;
        }
        JsonNode value;
        try {
            value = parseSingleValue(text);
        } catch (JsonProcessingException e) {
            return violation(Reason.NOT_JSON);
        }
        if (fenced && config.fenceIsViolation()) {
            return violation(Reason.CODE_FENCE);
        }
        if ("json_object".equals(format.type())) {
            return value.isObject() ? Optional.empty() : violation(Reason.NOT_AN_OBJECT);
        }
        return validate(format.schema(), value);
    }

    /**
     * Checks the arguments of one function call: one JSON object (blank counts as {@code {}}, what a function
     * without parameters gets), valid against the function's {@code parameters} schema when it has one. Arguments
     * the token limit broke off ({@code finishReason} {@code length}, not one whole value) are {@code truncated}; a
     * call completed before the limit is judged as any other. No code fence is accepted:
     * applications parse arguments as they come.
     */
    public Optional<Violation> checkArguments(JsonNode parameters, String arguments, String finishReason) {
        boolean cut = "length".equals(finishReason);
        if (cut && arguments.isBlank()) {
            return violation(Reason.TRUNCATED);
        }
        JsonNode value;
        try {
            // At the token limit only the arguments it broke off are cut: a call (or a Responses API item) completed
            // before it parses whole, and the application can run it.
            value = arguments.isBlank() ? json.createObjectNode() : parseSingleValue(arguments);
        } catch (JsonProcessingException e) {
            return violation(cut ? Reason.TRUNCATED : unfenced(arguments) != null ? Reason.CODE_FENCE
                    : Reason.NOT_JSON);
        }
        if (!value.isObject()) {
            return violation(Reason.NOT_AN_OBJECT);
        }
        return validate(parameters, value);
    }

    /** The value against the caller's schema (none: valid). */
    private Optional<Violation> validate(JsonNode schemaNode, JsonNode value) {
        if (schemaNode == null) {
            return Optional.empty();
        }
        int depth = depth(value, config.maxAnswerDepth());
        if (depth > config.maxAnswerDepth()) {
            // Not validated: a schema that references itself would recurse once per level of the answer.
            return Optional.of(new Violation(Reason.TOO_DEEP, List.of(), 0, 0, depth));
        }
        Optional<Compiled> schema = compiled.computeIfAbsent(schemaNode.toString(), key -> compile(schemaNode));
        if (schema.isEmpty()) {
            // The caller's schema itself is broken: nothing to hold the answer to.
            return Optional.empty();
        }
        List<ValidationMessage> messages = new ArrayList<>(schema.get().schema().validate(value));
        if (messages.isEmpty()) {
            return Optional.empty();
        }
        List<String> errors = new ArrayList<>();
        for (ValidationMessage message : messages.subList(0, Math.min(messages.size(), config.maxErrorsInEvidence()))) {
            // The schema's path and keyword only: the answer's values and the keys it made up (an extra property is
            // named in the instance path) are words of the answer, which are never stored.
            errors.add(Redactor.mask(message.getEvaluationPath() + " " + message.getType(), 120));
        }
        return Optional.of(new Violation(Reason.SCHEMA_VIOLATION, errors, messages.size(),
                schema.get().skippedPatterns().size(), 0));
    }

    /**
     * The text inside a Markdown code fence that wraps the whole answer, or null when there is none: what
     * {@code \\A\\s*```[a-zA-Z]*\\s*\\n(.*?)\\n?```\\s*\\z} (DOTALL) captured, found by one pass from each end.
     */
    static String unfenced(String text) {
        int n = text.length();
        int i = 0;
        while (i < n && isSpace(text.charAt(i))) {
            i++;
        }
        if (!text.startsWith("```", i)) {
            return null;
        }
        i += 3;
        while (i < n && ((text.charAt(i) >= 'a' && text.charAt(i) <= 'z') || (text.charAt(i) >= 'A'
                && text.charAt(i) <= 'Z'))) {
            i++;
        }
        int contentStart = -1;
        while (i < n && isSpace(text.charAt(i))) {
            if (text.charAt(i) == '\n') {
                contentStart = i + 1;
            }
            i++;
        }
        if (contentStart < 0) {
            return null;
        }
        int end = n;
        while (end > 0 && isSpace(text.charAt(end - 1))) {
            end--;
        }
        int close = end - 3;
        if (close < contentStart || !text.startsWith("```", close)) {
            return null;
        }
        int contentEnd = close > contentStart && text.charAt(close - 1) == '\n' ? close - 1 : close;
        return text.substring(contentStart, contentEnd);
    }

    /** java.util.regex's {@code \\s}. */
    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
    }

    /** How deep the value is nested (a scalar is 0, {@code []} is 1), counted without recursion up to just past max. */
    static int depth(JsonNode value, int max) {
        int deepest = 0;
        Deque<Iterator<JsonNode>> path = new ArrayDeque<>();
        if (value.isContainerNode()) {
            path.push(value.elements());
            deepest = 1;
        }
        while (!path.isEmpty()) {
            Iterator<JsonNode> children = path.peek();
            if (!children.hasNext()) {
                path.pop();
                continue;
            }
            JsonNode child = children.next();
            if (child.isContainerNode()) {
                path.push(child.elements());
                deepest = Math.max(deepest, path.size());
                if (deepest > max) {
                    return deepest;
                }
            }
        }
        return deepest;
    }

    private JsonNode parseSingleValue(String text) throws JsonProcessingException {
        try (JsonParser parser = json.createParser(text)) {
            JsonNode value = json.readTree(parser);
            if (value == null || value.isMissingNode() || parser.nextToken() != null) {
                throw new JsonProcessingException("not exactly one JSON value") {
                };
            }
            return value;
        } catch (JsonProcessingException e) {
            throw e;
        } catch (java.io.IOException e) {
            throw new JsonProcessingException(e.getMessage()) {
            };
        }
    }

    /** A compiled caller schema and the patterns of it that are not applied. */
    private record Compiled(JsonSchema schema, Set<String> skippedPatterns) {
    }

    private Optional<Compiled> compile(JsonNode schema) {
        try {
            LinearPatterns patterns = new LinearPatterns(patternPropertyNames(schema));
            // LEGACY paths ("$.population") as the factory's default configuration writes them in the evidence.
            SchemaValidatorsConfig validators = SchemaValidatorsConfig.builder().regularExpressionFactory(patterns)
                    .pathType(PathType.LEGACY).build();
            JsonSchema compiled = schemas.getSchema(schema, validators);
            compiled.initializeValidators();
            return Optional.of(new Compiled(compiled, patterns.skipped));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The keys of every {@code patternProperties} in the schema: regexes that select properties. */
    private static Set<String> patternPropertyNames(JsonNode schema) {
        Set<String> names = new HashSet<>();
        Deque<JsonNode> pending = new ArrayDeque<>();
        pending.push(schema);
        while (!pending.isEmpty()) {
            JsonNode node = pending.pop();
            if (node.isObject() && node.path("patternProperties").isObject()) {
                node.get("patternProperties").fieldNames().forEachRemaining(names::add);
            }
            node.elements().forEachRemaining(child -> {
                if (child.isContainerNode()) {
                    pending.push(child);
                }
            });
        }
        return names;
    }

    /**
     * The caller's regular expressions on RE2/J. One that RE2/J refuses or that is too big is not applied: a
     * {@code pattern} then accepts every string and a {@code patternProperties} key selects no property, so the
     * schema's other constraints still hold. The JSON Schema {@code pattern} is a search, not a full match.
     */
    static final class LinearPatterns implements RegularExpressionFactory {

        private final Set<String> selectors;
        final Set<String> skipped = ConcurrentHashMap.newKeySet();

        LinearPatterns(Set<String> selectors) {
            this.selectors = selectors;
        }

        @Override
        public RegularExpression getRegularExpression(String regex) {
            if (regex.length() <= MAX_PATTERN_CHARS && programSize(regex) <= MAX_PATTERN_SIZE) {
                try {
                    com.google.re2j.Pattern pattern = com.google.re2j.Pattern.compile(regex);
                    return value -> pattern.matcher(value).find();
                } catch (com.google.re2j.PatternSyntaxException e) {
                    // backreferences, look-around, possessive quantifiers: not linear, not applied
                }
            }
            skipped.add(regex);
            boolean selector = selectors.contains(regex);
            return value -> !selector;
        }
    }

    /**
     * An upper bound of the number of instructions a pattern compiles to: every atom counts one, a group the sum of
     * its parts, and a counted repetition {@code {m,n}} multiplies what it repeats by its larger bound.
     */
    static long programSize(String regex) {
        Deque<long[]> groups = new ArrayDeque<>(); // per open group: {size so far, size of the last atom}
        long[] current = {0, 0};
        int n = regex.length();
        for (int i = 0; i < n; i++) {
            char c = regex.charAt(i);
            long atom = 1;
            switch (c) {
                case '\\' -> {
                    if (i + 1 < n && (regex.charAt(i + 1) == 'p' || regex.charAt(i + 1) == 'P') && i + 2 < n
                            && regex.charAt(i + 2) == '{') {
                        int close = regex.indexOf('}', i + 2);
                        i = close < 0 ? n : close;
                    } else {
                        i++;
                    }
                }
                case '[' -> {
                    int j = i + 1;
                    if (j < n && regex.charAt(j) == '^') {
                        j++;
                    }
                    if (j < n && regex.charAt(j) == ']') {
                        j++;
                    }
                    while (j < n && regex.charAt(j) != ']') {
                        j += regex.charAt(j) == '\\' ? 2 : 1;
                    }
                    i = j;
                }
                case '(' -> {
                    groups.push(current);
                    current = new long[] {0, 0};
                    continue;
                }
                case ')' -> {
                    atom = Math.max(1, current[0]);
                    current = groups.isEmpty() ? new long[] {0, 0} : groups.pop();
                }
                case '{' -> {
                    int close = regex.indexOf('}', i);
                    long times = close < 0 ? -1 : repeatBound(regex.substring(i + 1, close));
                    if (times >= 0) {
                        current[0] += current[1] * (times - 1);
                        current[1] *= times;
                        if (current[0] > MAX_PATTERN_SIZE || current[1] > MAX_PATTERN_SIZE) {
                            return current[0] + current[1];
                        }
                        i = close;
                        continue;
                    }
                }
                case '*', '+', '?', '|' -> {
                    current[0]++;
                    continue;
                }
                default -> {
                }
            }
            current[0] += atom;
            current[1] = atom;
        }
        long total = current[0];
        while (!groups.isEmpty()) {
            total += groups.pop()[0];
        }
        return total;
    }

    /** The larger bound of a repetition body such as "3", "2,5" or "4,", or -1 when it is not one. */
    private static long repeatBound(String body) {
        int comma = body.indexOf(',');
        String low = comma < 0 ? body : body.substring(0, comma);
        String high = comma < 0 ? body : body.substring(comma + 1);
        if (low.isEmpty() || low.length() > 6 || !low.chars().allMatch(Character::isDigit)
                || high.length() > 6 || !high.chars().allMatch(Character::isDigit)) {
            return -1;
        }
        long min = Long.parseLong(low);
        return Math.max(1, high.isEmpty() ? min + 1 : Math.max(min, Long.parseLong(high)));
    }

    private static Optional<Violation> violation(Reason reason) {
        return Optional.of(new Violation(reason, List.of(), 0));
    }
}
