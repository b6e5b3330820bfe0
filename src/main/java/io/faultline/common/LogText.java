package io.faultline.common;

/**
 * A caller's text (a call id, a request path) as it goes into a log line: control characters and line separators
 * written as Java-style escapes (a line feed as backslash, u, 000a), so that no value can end the line and forge an
 * entry of its own, and cut to {@value #MAX} characters. One pass, linear in what it keeps.
 */
public final class LogText {

    static final int MAX = 256;

    private LogText() {
    }

    public static String of(Object value) {
        if (value == null) {
            return "null";
        }
        String text = value.toString();
        int n = Math.min(text.length(), MAX);
        StringBuilder out = null;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            boolean escape = Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || c == '\u0085';
            if (escape && out == null) {
                out = new StringBuilder(n + 16).append(text, 0, i);
            }
            if (out != null) {
                if (escape) {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
        }
        String kept = out != null ? out.toString() : text.substring(0, n);
        return text.length() > MAX ? kept + "…" : kept;
    }
}
