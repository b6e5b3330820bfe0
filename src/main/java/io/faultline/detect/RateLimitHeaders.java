package io.faultline.detect;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsing of the values providers put in rate-limit headers. */
final class RateLimitHeaders {

    // OpenAI resets are Go durations: "6m0s", "1s", "12ms", "1h2m3.5s".
    private static final Pattern GO_DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(h|ms|m|s|us|µs|ns)");

    private RateLimitHeaders() {
    }

    static Long number(Map<String, String> headers, String name) {
        String value = headers.get(name);
        if (value == null) {
            return null;
        }
        try {
            return (long) Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A Go-style duration, or plain seconds; null when unparseable. */
    static Duration goDuration(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String text = value.trim();
        if (text.matches("\\d+(\\.\\d+)?")) {
            return Duration.ofMillis((long) (Double.parseDouble(text) * 1000));
        }
        Matcher m = GO_DURATION.matcher(text);
        double nanos = 0;
        int end = 0;
        while (m.find()) {
            if (m.start() != end) {
                return null;
            }
            double amount = Double.parseDouble(m.group(1));
            nanos += amount * switch (m.group(2)) {
                case "h" -> 3.6e12;
                case "m" -> 6e10;
                case "s" -> 1e9;
                case "ms" -> 1e6;
                case "us", "µs" -> 1e3;
                default -> 1;
            };
            end = m.end();
        }
        return end == text.length() && end > 0 ? Duration.ofNanos((long) nanos) : null;
    }

    /** An RFC 3339 instant (Anthropic's resets) relative to {@code now}; null when unparseable. */
    static Duration until(String value, Instant now) {
        if (value == null) {
            return null;
        }
        try {
            Duration d = Duration.between(now, Instant.parse(value.trim()));
            return d.isNegative() ? Duration.ZERO : d;
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
