package io.faultline.testing;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.faultline.stack.PrometheusServer;

import static io.restassured.RestAssured.given;
import static io.restassured.RestAssured.when;
import static org.assertj.core.api.Assertions.assertThat;

/** Reads /q/metrics the way a Prometheus scraper does. */
public final class Metrics {

    private Metrics() {
    }

    public static String scrape() {
        return when().get("/q/metrics").then().statusCode(200).extract().asString();
    }

    /**
     * The lines of a scrape in the Prometheus text format 0.0.4 (what promtool lints; without this Accept the registry
     * answers OpenMetrics) that contain one of {@code parts}: the families a test checks, with their HELP and TYPE.
     */
    public static String families(String... parts) {
        String text = given().accept("text/plain; version=0.0.4").when().get("/q/metrics").then().statusCode(200)
                .extract().asString();
        StringBuilder families = new StringBuilder();
        for (String line : text.split("\n")) {
            for (String part : parts) {
                if (line.contains(part)) {
                    families.append(line).append('\n');
                    break;
                }
            }
        }
        return families.toString();
    }

    /** {@code promtool check metrics} on {@code families}: asserts that it passes, returns its complaints (lint). */
    public static String promtool(String families) throws Exception {
        Path file = Files.createTempFile("metrics", ".txt");
        try {
            Files.writeString(file, families);
            Process process = new ProcessBuilder(PrometheusServer.binary("promtool"), "check", "metrics")
                    .redirectInput(file.toFile()).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).as(output).isZero();
            return output.trim();
        } finally {
            Files.delete(file);
        }
    }

    /** The value of the sample whose name and labels (in exposition order, any subset) match, or NaN if absent. */
    public static double value(String scrape, String name, String... labels) {
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
                continue;
            }
            int brace = labelSetEnd(line, name.length());
            String labelPart = brace < 0 ? "" : line.substring(name.length(), brace + 1);
            boolean all = true;
            for (int i = 0; i + 1 < labels.length; i += 2) {
                if (!labelPart.contains(labels[i] + "=\"" + labels[i + 1] + "\"")) {
                    all = false;
                    break;
                }
            }
            if (all) {
                Matcher m = Pattern.compile("\\s([-+0-9.eE]+|NaN)$").matcher(line.trim());
                if (m.find()) {
                    return Double.parseDouble(m.group(1));
                }
            }
        }
        return Double.NaN;
    }

    /** The index of the brace closing the label set at {@code from}, or -1: a label value may hold braces. */
    private static int labelSetEnd(String line, int from) {
        if (from >= line.length() || line.charAt(from) != '{') {
            return -1;
        }
        boolean quoted = false;
        for (int i = from + 1; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted && c == '\\') {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '}' && !quoted) {
                return i;
            }
        }
        return -1;
    }

    public static double valueOrZero(String scrape, String name, String... labels) {
        double v = value(scrape, name, labels);
        return Double.isNaN(v) ? 0 : v;
    }
}
