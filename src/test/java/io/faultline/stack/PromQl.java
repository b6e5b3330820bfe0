package io.faultline.stack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Every PromQL expression the project ships: dashboard panel targets and alert rules. */
public final class PromQl {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private PromQl() {
    }

    /** Expressions by where they come from ("dashboards/x.json panel 'title' A", "prometheus/alerts.yml Name"). */
    public static Map<String, String> all(Path dashboards, Path rules) {
        Map<String, String> exprs = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(dashboards)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                for (JsonNode panel : JSON.readTree(file.toFile()).path("panels")) {
                    for (JsonNode target : panel.path("targets")) {
                        if (target.hasNonNull("expr") && isPrometheus(target, panel)) {
                            exprs.put(file.getFileName() + " '" + panel.path("title").asText() + "' "
                                    + target.path("refId").asText(), target.get("expr").asText());
                        }
                    }
                }
            }
            try (Stream<Path> ruleFiles = Files.list(rules)) {
                for (Path file : ruleFiles.filter(f -> f.toString().endsWith(".yml") && !f.toString()
                        .endsWith(".test.yml")).sorted().toList()) {
                    for (JsonNode group : YAML.readTree(file.toFile()).path("groups")) {
                        for (JsonNode rule : group.path("rules")) {
                            String name = rule.hasNonNull("alert") ? rule.get("alert").asText()
                                    : rule.path("record").asText();
                            exprs.put(file.getFileName() + " " + name, rule.path("expr").asText().trim());
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return exprs;
    }

    private static boolean isPrometheus(JsonNode target, JsonNode panel) {
        String uid = target.path("datasource").path("uid").asText(panel.path("datasource").path("uid").asText());
        return uid.contains("DS_PROMETHEUS");
    }

    /** Replaces Grafana's variables with what they stand for in a query made outside Grafana. */
    public static String concrete(String expr) {
        return expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$__interval", "15s")
                .replace("$provider", ".*");
    }

    /**
     * What an alert rule's expression is checked with against a live Prometheus: the expression with every
     * comparison against a number turned into {@code > -Inf}, so that a healthy system (no alert firing) still proves
     * that the series it reads exist and that the expression computes over them. Whether the thresholds fire where
     * they should is each rule file's {@code promtool test rules} unit test; dashboard queries are returned as they
     * are. Label matchers ({@code =}, {@code =~}, {@code !~}, inside braces) are left alone.
     */
    public static String forDataCheck(String key, String expr) {
        if (!key.contains(".yml ")) {
            return expr;
        }
        return THRESHOLD.matcher(expr).replaceAll("> -Inf");
    }

    private static final java.util.regex.Pattern THRESHOLD = java.util.regex.Pattern.compile(
            "(?:>=|<=|==|!=|>|<)\\s*-?[0-9]+(?:\\.[0-9]+)?(?![0-9a-zA-Z_.])");

    /** Writes the expressions as recording rules so that `promtool check rules` parses every one. */
    public static Path asRuleFile(Map<String, String> exprs, Path dir) {
        List<Map<String, String>> rules = new ArrayList<>();
        int i = 0;
        for (String expr : exprs.values()) {
            rules.add(Map.of("record", "faultline:check_" + i++, "expr", concrete(expr)));
        }
        try {
            Path file = Files.createDirectories(dir).resolve("all-expressions.rules.yml");
            YAML.writeValue(file.toFile(), Map.of("groups", List.of(Map.of("name", "check", "rules", rules))));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
