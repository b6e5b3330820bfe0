package io.faultline.detect;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;

/** Parsing of the values providers put in rate-limit headers. */
public final class RateLimitHeaders {

    private RateLimitHeaders() {
    }

    public static Long number(Map<String, String> headers, String name) {
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

    /**
     * A Go-style duration ("6m0s", "1s", "12ms", "1h2m3.5s"), or plain seconds; null when unparseable. One pass:
     * number, unit, number, unit… (the regex it replaces retried every start position of a long digit run).
     */
    public static Duration goDuration(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String text = value.trim();
        int n = text.length();
        double nanos = 0;
        int i = 0;
        while (i < n) {
            int numberStart = i;
            while (i < n && isDigit(text.charAt(i))) {
                i++;
            }
            if (i == numberStart) {
                return null;
            }
            if (i < n && text.charAt(i) == '.') {
                int fraction = ++i;
                while (i < n && isDigit(text.charAt(i))) {
                    i++;
                }
                if (i == fraction) {
                    return null;
                }
            }
            double amount = Double.parseDouble(text.substring(numberStart, i));
            if (i == n && numberStart == 0) {
                return Duration.ofMillis((long) (amount * 1000)); // plain seconds
            }
            double unit;
            if (text.startsWith("ms", i)) {
                unit = 1e6;
                i += 2;
            } else if (text.startsWith("us", i) || text.startsWith("µs", i)) {
                unit = 1e3;
                i += 2;
            } else if (text.startsWith("ns", i)) {
                unit = 1;
                i += 2;
            } else if (i < n && text.charAt(i) == 'h') {
                unit = 3.6e12;
                i++;
            } else if (i < n && text.charAt(i) == 'm') {
                unit = 6e10;
                i++;
            } else if (i < n && text.charAt(i) == 's') {
                unit = 1e9;
                i++;
            } else {
                return null;
            }
            nanos += amount * unit;
        }
        return Duration.ofNanos((long) nanos);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** An RFC 3339 instant (Anthropic's resets) relative to {@code now}; null when unparseable. */
    public static Duration until(String value, Instant now) {
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
