package io.faultline.common;

/**
 * A caller's text (a call id, a request path) as it goes into a log line or a problem's detail: control characters,
 * line separators and bidirectional controls written as Java-style escapes (a line feed as backslash, u, 000a), so
 * that no value can end the line and forge an entry of its own, nor reorder how the text around it is shown; in a
 * log line also cut to {@value #MAX} characters. One pass, linear in what it keeps.
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
        String kept = escape(text, Math.min(text.length(), MAX));
        return text.length() > MAX ? kept + "…" : kept;
    }

    /** The whole text escaped as {@link #of} does, not cut (a problem's detail is cut where it is built). */
    public static String escaped(String text) {
        return text == null ? null : escape(text, text.length());
    }

    private static String escape(String text, int n) {
        StringBuilder out = null;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            boolean escape = Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || c == '\u0085'
                    || isBidiControl(c);
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
        return out != null ? out.toString() : text.substring(0, n);
    }

    /** U+202A-U+202E (embeddings, overrides), U+2066-U+2069 (isolates), U+200E/U+200F (marks). */
    public static boolean isBidiControl(char c) {
        return (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069') || c == '\u200E'
                || c == '\u200F';
    }
}
