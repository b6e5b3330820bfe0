package io.faultline.common;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's configuration reference is the settings the service has: every key of every {@code @ConfigMapping}
 * interface (read from the sources, with its default and the first sentence of its Javadoc), nested groups and map
 * entries included. The test writes the table to {@code target/config-reference.md} and fails while a key is missing
 * from the README, so that a new setting is documented the day it exists (a README probe found 98 settings with
 * defaults that the README did not name, among them {@code faultline.pii.private-ips}).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfigReferenceTest {

    private static final Pattern MAPPING = Pattern.compile(
            "@ConfigMapping\\(prefix = \"([^\"]+)\"\\)\\s*(?:public\\s+)?interface\\s+(\\w+)\\s*\\{");
    private static final Pattern MEMBER = Pattern.compile(
            "((?:@[\\w.]+(?:\\((?:[^()]|\\([^()]*\\))*\\))?\\s*)*)([\\w<>?, .]+?)\\s+(\\w+)\\(\\)\\s*;");
    private static final Pattern NESTED = Pattern.compile("interface\\s+(\\w+)\\s*\\{");
    private static final Pattern DEFAULT = Pattern.compile("@WithDefault\\(\"((?:[^\"\\\\]|\\\\.)*)\"\\)");

    record Setting(String key, String defaultValue, String meaning) {
    }

    @Test
    void every_setting_is_in_the_readme_reference() throws IOException {
        List<Setting> settings = settings();
        assertThat(settings).as("the mappings were read").hasSizeGreaterThan(150);
        StringBuilder table = new StringBuilder("| key | default | meaning |\n|---|---|---|\n");
        for (Setting s : settings) {
            table.append("| `").append(s.key()).append("` | ").append(s.defaultValue()).append(" | ")
                    .append(s.meaning()).append(" |\n");
        }
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/config-reference.md"), table, StandardCharsets.UTF_8);
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        List<String> missing = settings.stream().map(Setting::key).filter(k -> !readme.contains("`" + k + "`"))
                .toList();
        assertThat(missing).as("settings missing from the README's configuration reference (paste"
                + " target/config-reference.md)").isEmpty();
    }

    static List<Setting> settings() throws IOException {
        List<Setting> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path file : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                String source = Files.readString(file, StandardCharsets.UTF_8);
                Matcher m = MAPPING.matcher(source);
                while (m.find()) {
                    String body = block(source, m.end());
                    read(body, m.group(1), nested(body), out);
                }
            }
        }
        out.sort(java.util.Comparator.comparing(Setting::key));
        return out;
    }

    /** The members of one interface body (depth 0 only), leaves as settings, groups and maps of groups recursed. */
    private static void read(String body, String prefix, Map<String, String> groups, List<Setting> out) {
        String top = topLevel(body);
        Matcher m = MEMBER.matcher(top);
        while (m.find()) {
            String annotations = body.substring(m.start(1), m.end(1)); // with the braces top blanked
            String type = m.group(2).trim().replaceAll("^(?:public|default|static)\\s+", "");
            String key = prefix + "." + kebab(m.group(3));
            String doc = javadocBefore(body, m.start()); // top has the same offsets, its braces blanked
            Matcher group = Pattern.compile("^Map<String,\\s*(\\w+)>$").matcher(type);
            if (groups.containsKey(type)) {
                String nested = groups.get(type);
                read(nested, key, nested(nested), out);
            } else if (group.find() && groups.containsKey(group.group(1))) {
                String nested = groups.get(group.group(1));
                read(nested, key + ".<name>", nested(nested), out);
            } else {
                Matcher d = DEFAULT.matcher(annotations);
                String value = d.find() ? "`" + d.group(1).replace("|", "\\|") + "`"
                        : type.startsWith("Optional") ? "unset" : type.startsWith("Map") ? "per entry" : "required";
                out.add(new Setting(type.startsWith("Map") ? key + ".<name>" : key, value, doc));
            }
        }
    }

    /** The body with every nested block blanked, so that only the interface's own members remain. */
    private static String topLevel(String body) {
        StringBuilder top = new StringBuilder(body.length());
        int depth = 0;
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c == '{') {
                depth++;
            }
            top.append(depth == 0 ? c : ' ');
            if (c == '}') {
                depth--;
            }
        }
        return top.toString();
    }

    private static Map<String, String> nested(String body) {
        Map<String, String> groups = new LinkedHashMap<>();
        Matcher m = NESTED.matcher(body);
        while (m.find()) {
            groups.put(m.group(1), block(body, m.end()));
        }
        return groups;
    }

    /** The text from {@code from} to its matching closing brace (the opening one just before it). */
    private static String block(String source, int from) {
        int depth = 1;
        for (int i = from; i < source.length(); i++) {
            char c = source.charAt(i);
            if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                return source.substring(from, i);
            }
        }
        throw new IllegalStateException("unbalanced braces");
    }

    /** The first sentence of the Javadoc ending just before {@code at}, on one line, or empty. */
    private static String javadocBefore(String text, int at) {
        String before = text.substring(0, at).stripTrailing();
        if (!before.endsWith("*/")) {
            return "";
        }
        int start = before.lastIndexOf("/**");
        if (start < 0) {
            return "";
        }
        String doc = before.substring(start + 3, before.length() - 2).replaceAll("(?m)^\\s*\\*\\s?", " ")
                .replaceAll("\\{@(?:code|link) ([^}]*)}", "`$1`").replaceAll("\\s+", " ").trim();
        int end = doc.indexOf(". ");
        doc = end > 0 ? doc.substring(0, end + 1) : doc;
        return doc.replace("|", "\\|");
    }

    private static String kebab(String name) {
        return name.replaceAll("([A-Z])", "-$1").toLowerCase(java.util.Locale.ROOT);
    }
}
