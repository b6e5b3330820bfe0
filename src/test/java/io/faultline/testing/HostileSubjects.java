package io.faultline.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.classify.CallRule;
import io.faultline.classify.ClassifyConfig;
import io.faultline.classify.ProviderRules;
import io.faultline.classify.SeverityPolicy;
import io.faultline.common.Redactor;
import io.faultline.content.ContentConfig;
import io.faultline.content.FaithfulnessConfig;
import io.faultline.content.FaithfulnessRules;
import io.faultline.content.FormatConfig;
import io.faultline.content.FormatRules;
import io.faultline.content.InjectionConfig;
import io.faultline.content.InjectionRules;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageRules;
import io.faultline.content.PiiConfig;
import io.faultline.content.PiiRules;
import io.faultline.content.ToolCallRules;
import io.faultline.signals.InvalidSignalException;
import io.faultline.signals.SignalParser;
import io.faultline.signals.SignalsConfig;


import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Every detector and the mapper, each with its documented defaults and fed caller text in the fields it reads: the
 * subjects of the hostile-input tests and of the worst-case bench.
 */
public final class HostileSubjects {

    public static final Instant AT = Instant.parse("2026-03-01T10:00:00Z");

    private HostileSubjects() {
    }

    /** The caller-controlled texts of one call. */
    public record Texts(String user, String answer, String grounding, String errorMessage) {

        /** The same text in every field. */
        public static Texts everywhere(String text) {
            return new Texts(text, text, text, text);
        }
    }

    /** One call's worth of work on prepared input. */
    public interface Prepared {
        void run();
    }

    /** A detector (or the mapper) and how to feed it. */
    public record Subject(String name, java.util.function.Function<Texts, Prepared> preparer) {

        public Prepared prepare(Texts texts) {
            return preparer.apply(texts);
        }
    }

    /** An ordinary call of about 2 KB: a 1 KB question over a short context, a 1 KB answer. */
    public static Texts normalCall() {
        String context = """
                The Rhine is a river that rises in the Swiss Alps and flows through Switzerland, Liechtenstein, \
                Austria, Germany, France and the Netherlands before it reaches the North Sea near Rotterdam. It is \
                about 1,230 kilometres long. Basel, Strasbourg, Cologne and Düsseldorf lie on its banks.""";
        String user = "Please answer from the context only. How long is the Rhine, and which cities lie on it? "
                + "Write two short paragraphs for a school newsletter and keep a friendly tone. ".repeat(6);
        String answer = ("The Rhine is about 1,230 kilometres long. It rises in the Swiss Alps and flows to the "
                + "North Sea near Rotterdam, passing Basel, Strasbourg, Cologne and Düsseldorf on the way. ").repeat(6);
        return new Texts(user, answer, context, "Rate limit reached for gpt-4o in organization org-abc on tokens per "
                + "min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.");
    }

    public static List<Subject> all() {
        ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
        CallMapper mapper = new CallMapper(Payloads.JSON, content);
        SeverityPolicy severities = new SeverityPolicy(ConfigMappings.withDurations(ClassifyConfig.class));
        SignalParser signals = new SignalParser(ConfigMappings.withDurations(SignalsConfig.class));
        return List.of(
                new Subject("mapper", texts -> {
                    ObjectNode payload = payload(texts);
                    return () -> mapper.map(payload);
                }),
                rule("injection", mapper, new InjectionRules(content, ConfigMappings.defaults(InjectionConfig.class),
                        severities)),
                rule("pii", mapper, new PiiRules(content, ConfigMappings.defaults(PiiConfig.class))),
                new Subject("format", texts -> {
                    FormatRules rules = new FormatRules(content, ConfigMappings.defaults(FormatConfig.class));
                    LlmCall call = mapper.map(structured(payload(texts)));
                    return () -> rules.apply(call);
                }),
                new Subject("format, caller schema patterns", texts -> {
                    FormatRules rules = new FormatRules(content, ConfigMappings.defaults(FormatConfig.class));
                    ObjectNode answer = Payloads.JSON.createObjectNode().put("answer", texts.answer())
                            .put(texts.user(), "value");
                    LlmCall call = mapper.map(structured(payload(new Texts(texts.user(), answer.toString(),
                            texts.grounding(), texts.errorMessage()))));
                    return () -> rules.apply(call);
                }),
                new Subject("tool calls", texts -> {
                    ToolCallRules rules = new ToolCallRules(content, ConfigMappings.defaults(FormatConfig.class));
                    LlmCall call = mapper.map(toolCalls(payload(texts), texts));
                    return () -> rules.apply(call);
                }),
                rule("language", mapper, new LanguageRules(content, ConfigMappings.defaults(LanguageConfig.class))),
                rule("faithfulness", mapper, new FaithfulnessRules(content,
                        ConfigMappings.defaults(FaithfulnessConfig.class), severities)),
                new Subject("provider rules", texts -> {
                    ProviderRules rules = new ProviderRules(severities,
                            ConfigMappings.withDurations(ClassifyConfig.class));
                    LlmCall call = mapper.map(Payloads.failure("openai", "gpt-4o", "d", AT, 500,
                            "InternalServerError", texts.errorMessage()).node());
                    return () -> rules.apply(call);
                }),
                new Subject("redactor", texts -> () -> Redactor.mask(texts.errorMessage(), 300)),
                new Subject("signal parser", texts -> {
                    ObjectNode run = Payloads.JSON.createObjectNode().put("signalId", "s-1").put("pipeline", "p")
                            .put("runId", "r-1").put("status", "failed").put("startedAt", "2026-03-01T09:00:00Z")
                            .put("error", texts.errorMessage());
                    ObjectNode unknownField = run.deepCopy().put(texts.errorMessage(), 1);
                    ObjectNode badStatus = run.deepCopy().put("status", texts.errorMessage());
                    return () -> {
                        signals.ingestion(run, AT);
                        expectInvalid(() -> signals.ingestion(unknownField, AT));
                        expectInvalid(() -> signals.ingestion(badStatus, AT));
                    };
                }));
    }

    private static void expectInvalid(Runnable parse) {
        try {
            parse.run();
        } catch (InvalidSignalException expected) {
            return;
        }
        throw new AssertionError("expected the signal to be refused");
    }

    private static Subject rule(String name, CallMapper mapper, CallRule rule) {
        return new Subject(name, texts -> {
            LlmCall call = mapper.map(payload(texts));
            return () -> rule.apply(call);
        });
    }

    /**
     * A successful chat call with the texts in the user message, the answer, the grounding metadata, the error
     * message and a rate-limit header.
     */
    public static ObjectNode payload(Texts texts) {
        Payloads p = Payloads.success("openai", "gpt-4o", "d", AT).answer(texts.answer(), "stop")
                .metadata(Map.of("context", texts.grounding()))
                .header("x-ratelimit-reset-tokens", texts.errorMessage());
        ObjectNode node = p.node();
        node.putArray("messages").addObject().put("role", "user").put("content", texts.user());
        node.putObject("error_information").put("error_message", texts.errorMessage());
        return node;
    }

    /**
     * The payload offering 32 functions named by the caller's text (each differing only in its last characters)
     * with the structured-output schema's caller patterns, and answering 32 calls of such names, one of them with the
     * answer text as its argument.
     */
    public static ObjectNode toolCalls(ObjectNode node, Texts texts) {
        ObjectNode schema = (ObjectNode) structured(node.deepCopy()).at("/model_parameters/response_format/json_schema")
                .get("schema");
        com.fasterxml.jackson.databind.node.ArrayNode tools = ((ObjectNode) node.get("model_parameters"))
                .putArray("tools");
        com.fasterxml.jackson.databind.node.ArrayNode calls = ((ObjectNode) node.at("/response/choices/0/message"))
                .putArray("tool_calls");
        for (int i = 0; i < 32; i++) {
            tools.addObject().put("type", "function").putObject("function").put("name", texts.user() + i)
                    .set("parameters", schema);
            String arguments = i == 0 ? Payloads.JSON.createObjectNode().put("answer", texts.answer()).toString()
                    : "{}";
            calls.addObject().put("id", "call_" + i).put("type", "function").putObject("function")
                    .put("name", texts.user() + (i * 7 % 40)).put("arguments", arguments);
        }
        return node;
    }

    /** The payload asking for structured output against a schema with caller patterns (a search and a selector). */
    public static ObjectNode structured(ObjectNode node) {
        ObjectNode schema = Payloads.JSON.createObjectNode().put("type", "object");
        schema.putObject("properties").putObject("answer").put("type", "string").put("pattern", "^(.*a){10}$");
        schema.putObject("patternProperties").putObject("^(x+x+)+y$").put("type", "string");
        ObjectNode format = ((ObjectNode) node.get("model_parameters")).putObject("response_format")
                .put("type", "json_schema");
        format.putObject("json_schema").put("name", "reply").set("schema", schema);
        return node;
    }
}
