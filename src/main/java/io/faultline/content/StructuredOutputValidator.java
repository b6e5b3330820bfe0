package io.faultline.content;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import com.networknt.schema.resource.AllowSchemaLoader;
import io.faultline.common.Redactor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks an answer against the {@code response_format} the request asked for: it must be one JSON value (an object
 * for {@code json_object}) and, for {@code json_schema}, valid against the schema with a real JSON Schema validator
 * (draft 2020-12, networknt). Schemas may only reference themselves: a {@code $ref} to a URL is never fetched,
 * because the schema comes from the caller and fetching it would let any caller make Faultline call out.
 */
public final class StructuredOutputValidator {

    /** Why an answer is not the requested structured output. */
    public enum Reason {
        TRUNCATED("truncated"), EMPTY("empty"), NOT_JSON("not_json"), CODE_FENCE("code_fence"),
        NOT_AN_OBJECT("not_an_object"), SCHEMA_VIOLATION("schema_violation");

        private final String code;

        Reason(String code) {
            this.code = code;
        }

        public String code() {
            return code;
        }
    }

    /** The outcome: empty when the answer complies. */
    public record Violation(Reason reason, List<String> errors, int errorCount) {
    }

    private static final Pattern FENCE = Pattern.compile("\\A\\s*```[a-zA-Z]*\\s*\\n(.*?)\\n?```\\s*\\z",
            Pattern.DOTALL);

    private final ObjectMapper json = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private final JsonSchemaFactory schemas;
    private final Map<String, Optional<JsonSchema>> compiled;
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
            protected boolean removeEldestEntry(Map.Entry<String, Optional<JsonSchema>> eldest) {
                return size() > capacity;
            }
        });
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
        Matcher fence = FENCE.matcher(answer);
        boolean fenced = fence.matches();
        if (fenced) {
            text = fence.group(1);
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
        if (format.schema() == null) {
            return Optional.empty();
        }
        Optional<JsonSchema> schema = compiled.computeIfAbsent(format.schema().toString(),
                key -> compile(format.schema()));
        if (schema.isEmpty()) {
            // The caller's schema itself is broken: nothing to hold the answer to.
            return Optional.empty();
        }
        List<ValidationMessage> messages = new ArrayList<>(schema.get().validate(value));
        if (messages.isEmpty()) {
            return Optional.empty();
        }
        List<String> errors = new ArrayList<>();
        for (ValidationMessage message : messages.subList(0, Math.min(messages.size(), config.maxErrorsInEvidence()))) {
            // Path and keyword only: the instance value is the model's answer, which is never stored.
            errors.add(Redactor.mask(message.getInstanceLocation() + " " + message.getType(), 120));
        }
        return Optional.of(new Violation(Reason.SCHEMA_VIOLATION, errors, messages.size()));
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

    private Optional<JsonSchema> compile(JsonNode schema) {
        try {
            JsonSchema compiled = schemas.getSchema(schema);
            compiled.initializeValidators();
            return Optional.of(compiled);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<Violation> violation(Reason reason) {
        return Optional.of(new Violation(reason, List.of(), 0));
    }
}
