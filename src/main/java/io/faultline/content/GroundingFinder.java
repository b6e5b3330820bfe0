package io.faultline.content;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds the grounding documents an application put inside its system and user messages: the text of
 * {@code <context>}, {@code <document ...>}, {@code <documents>} and {@code <sources>} elements, and the text that
 * follows a heading line ({@code Context:}, {@code Documents:}, {@code Sources:}, {@code Knowledge:}) up to the next
 * {@code Question:}, {@code Query:}, {@code Answer:} or {@code Instructions:} line or the end of the message.
 * Tool results and earlier assistant turns are not read as grounding: an agent's tool output is not a promise that
 * the answer stays within it.
 */
public final class GroundingFinder {

    private static final String[] TAGS = {"documents", "document", "context", "sources"};
    private static final String[] HEADINGS = {"context", "documents", "sources", "knowledge"};
    private static final String[] STOPS = {"question", "query", "answer", "instructions", "instruction"};

    private GroundingFinder() {
    }

    /** The documents found in the messages, in order; empty when there are none. */
    public static List<String> find(List<CallContent.Message> messages) {
        List<String> documents = new ArrayList<>();
        for (CallContent.Message message : messages) {
            if ("system".equals(message.role()) || "user".equals(message.role())) {
                String text = message.text();
                for (int[] span : spans(text)) {
                    String document = text.substring(span[0], span[1]).strip();
                    if (!document.isEmpty()) {
                        documents.add(document);
                    }
                }
            }
        }
        return documents;
    }

    /**
     * The text of one message without the documents in it: what the caller wrote around its grounding (the
     * question), the same instance when there is no document. Linear in the text.
     */
    public static String withoutDocuments(String text) {
        List<int[]> spans = spans(text);
        if (spans.isEmpty()) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int at = 0;
        for (int[] span : spans) {
            out.append(text, at, span[0]).append('\n');
            at = span[1];
        }
        return out.append(text, at, text.length()).toString();
    }

    /** Where the documents of one message are, in order and apart: tagged ones, else those under headings. */
    private static List<int[]> spans(String text) {
        List<int[]> spans = new ArrayList<>();
        if (!findTagged(text, spans)) {
            findUnderHeading(text, spans);
        }
        return spans;
    }

    /** Adds the span of every grounding element that holds text; true when there was at least one. */
    private static boolean findTagged(String text, List<int[]> spans) {
        boolean found = false;
        int at = text.indexOf('<');
        while (at >= 0 && at < text.length() - 1) {
            String tag = tagAt(text, at + 1);
            int next = at + 1;
            if (tag != null) {
                int open = text.indexOf('>', at);
                if (open < 0) {
                    break;
                }
                int close = indexOfIgnoreCase(text, "</" + tag, open + 1);
                int contentEnd = close < 0 ? text.length() : close;
                if (!blank(text, open + 1, contentEnd)) {
                    spans.add(new int[] {open + 1, contentEnd});
                    found = true;
                }
                // An outer <documents> holds its <document> children: read once, skip past its end.
                next = close < 0 ? text.length() : close + tag.length() + 2;
            }
            at = text.indexOf('<', next);
        }
        return found;
    }

    /** The grounding tag name that opens at {@code from} (after '<'), or null. */
    private static String tagAt(String text, int from) {
        for (String tag : TAGS) {
            int end = from + tag.length();
            if (text.regionMatches(true, from, tag, 0, tag.length()) && end < text.length()) {
                char after = text.charAt(end);
                if (after == '>' || after == ' ' || after == '\n' || after == '\t' || after == '/') {
                    return after == '/' ? null : tag;
                }
            }
        }
        return null;
    }

    private static void findUnderHeading(String text, List<int[]> spans) {
        int lineStart = 0;
        int documentStart = -1;
        int documentEnd = -1;
        while (lineStart <= text.length()) {
            int lineEnd = text.indexOf('\n', lineStart);
            if (lineEnd < 0) {
                lineEnd = text.length();
            }
            int afterHeading = headingEnd(text, lineStart, lineEnd, HEADINGS);
            if (afterHeading >= 0) {
                flush(text, documentStart, documentEnd, spans);
                documentStart = afterHeading;
                documentEnd = lineEnd;
            } else if (headingEnd(text, lineStart, lineEnd, STOPS) >= 0) {
                flush(text, documentStart, documentEnd, spans);
                documentStart = -1;
            } else if (documentStart >= 0) {
                documentEnd = lineEnd;
            }
            lineStart = lineEnd + 1;
        }
        flush(text, documentStart, documentEnd, spans);
    }

    private static void flush(String text, int start, int end, List<int[]> spans) {
        if (start >= 0 && !blank(text, start, end)) {
            spans.add(new int[] {start, end});
        }
    }

    private static boolean blank(String text, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Character.isWhitespace(text.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** Where the text after "Heading:" starts when the line opens with one of {@code names}, else -1. */
    private static int headingEnd(String text, int lineStart, int lineEnd, String[] names) {
        int i = lineStart;
        // Markdown decoration around a heading: "## Context:", "**Context:**".
        while (i < lineEnd && (Character.isWhitespace(text.charAt(i)) || text.charAt(i) == '#'
                || text.charAt(i) == '*')) {
            i++;
        }
        for (String name : names) {
            int end = i + name.length();
            if (end < lineEnd && text.regionMatches(true, i, name, 0, name.length())) {
                int j = end;
                while (j < lineEnd && text.charAt(j) == '*') {
                    j++;
                }
                if (j < lineEnd && text.charAt(j) == ':') {
                    j++;
                    while (j < lineEnd && text.charAt(j) == '*') {
                        j++;
                    }
                    return j;
                }
            }
        }
        return -1;
    }

    private static int indexOfIgnoreCase(String text, String needle, int from) {
        for (int i = from; i <= text.length() - needle.length(); i = i + 1) {
            i = text.indexOf('<', i);
            if (i < 0) {
                return -1;
            }
            if (text.regionMatches(true, i, needle, 0, needle.length())) {
                return i;
            }
        }
        return -1;
    }
}
