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
                if (!findTagged(text, documents)) {
                    findUnderHeading(text, documents);
                }
            }
        }
        return documents;
    }

    /** Adds the text of every grounding element; true when there was at least one. */
    private static boolean findTagged(String text, List<String> documents) {
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
                String document = text.substring(open + 1, contentEnd).strip();
                if (!document.isEmpty()) {
                    documents.add(document);
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

    private static void findUnderHeading(String text, List<String> documents) {
        int lineStart = 0;
        StringBuilder current = null;
        while (lineStart <= text.length()) {
            int lineEnd = text.indexOf('\n', lineStart);
            if (lineEnd < 0) {
                lineEnd = text.length();
            }
            int afterHeading = headingEnd(text, lineStart, lineEnd, HEADINGS);
            if (afterHeading >= 0) {
                flush(current, documents);
                current = new StringBuilder(text.substring(afterHeading, lineEnd).strip());
            } else if (headingEnd(text, lineStart, lineEnd, STOPS) >= 0) {
                flush(current, documents);
                current = null;
            } else if (current != null) {
                current.append('\n').append(text, lineStart, lineEnd);
            }
            lineStart = lineEnd + 1;
        }
        flush(current, documents);
    }

    private static void flush(StringBuilder current, List<String> documents) {
        if (current != null) {
            String document = current.toString().strip();
            if (!document.isEmpty()) {
                documents.add(document);
            }
        }
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
