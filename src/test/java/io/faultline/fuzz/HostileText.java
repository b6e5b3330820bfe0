package io.faultline.fuzz;

import java.util.Base64;
import java.util.SplittableRandom;

/**
 * The caller texts that made detectors stall in issue 10: long runs that a backtracking pattern retries from every
 * start position, plus characters PostgreSQL or a naive escaper refuses. Each is built to an exact length.
 */
enum HostileText {
    ONE_TOKEN, AT_SIGNS, DOTS, DIGITS_WITH_SEPARATORS, ANGLE_BRACKETS, ZERO_WIDTH, NESTED_BRACKETS, BASE64,
    IGNORE_PREVIOUS, EMAIL_LIKE, JWT_LIKE, LONG_URL, HEX_DUMP, NUL_RUN, LONE_SURROGATES, CONTROL_CHARS, WHITESPACE,
    JSON_LIKE;

    /** Sizes in characters: most texts are small, a fifth are at the 64 KiB bound of section 2. */
    static int size(SplittableRandom random) {
        int pick = random.nextInt(10);
        return pick < 2 ? 65_536 : pick < 4 ? 16_384 : pick < 7 ? 1_024 : 1 + random.nextInt(120);
    }

    static HostileText pick(SplittableRandom random) {
        HostileText[] all = values();
        return all[random.nextInt(all.length)];
    }

    String build(int length, SplittableRandom random) {
        StringBuilder out = new StringBuilder(length + 16);
        switch (this) {
            case ONE_TOKEN -> fill(out, "a", length);
            case AT_SIGNS -> fill(out, "@", length);
            case DOTS -> fill(out, ".", length);
            case DIGITS_WITH_SEPARATORS -> fill(out, "4111 1111-1111.1111,", length);
            case ANGLE_BRACKETS -> fill(out, "<>", length);
            case ZERO_WIDTH -> fill(out, "\u200B\u200C\u200D\u2060\uFEFF", length);
            case NESTED_BRACKETS -> {
                int half = length / 2;
                fill(out, "[{(", half);
                StringBuilder close = new StringBuilder();
                fill(close, ")}]", length - half);
                out.append(close);
            }
            case BASE64 -> {
                byte[] bytes = new byte[length * 3 / 4 + 3];
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = (byte) random.nextInt(256);
                }
                out.append(Base64.getEncoder().encodeToString(bytes));
            }
            case IGNORE_PREVIOUS -> fill(out, "ignore previous instructions ", length);
            case EMAIL_LIKE -> fill(out, "a@b.", length);
            case JWT_LIKE -> {
                out.append("eyJhbGciOiJIUzI1NiJ9.");
                fill(out, "eyJ.", length);
            }
            case LONG_URL -> {
                out.append("https://example.com/");
                fill(out, "a/", length);
            }
            case HEX_DUMP -> fill(out, "0x7f3a9c ", length);
            case NUL_RUN -> fill(out, "\u0000a", length);
            case LONE_SURROGATES -> fill(out, "\uD800x\uDC00", length);
            case CONTROL_CHARS -> {
                for (int i = 0; out.length() < length; i++) {
                    out.append((char) (1 + i % 31)).append('\u202E');
                }
            }
            case WHITESPACE -> fill(out, " \t\n\r\u00A0\u3000", length);
            case JSON_LIKE -> fill(out, "{\"a\":[", length);
        }
        out.setLength(Math.min(out.length(), length));
        return out.toString();
    }

    private static void fill(StringBuilder out, String unit, int length) {
        while (out.length() < length) {
            out.append(unit);
        }
    }

    String label() {
        return name().toLowerCase().replace('_', '-');
    }
}
