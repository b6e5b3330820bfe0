package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An HTTP answer ready to write: a whole body, or server-sent-event frames written and flushed one by one. */
record Reply(int status, Map<String, String> headers, byte[] body, List<String> frames) {

    Reply {
        headers = new LinkedHashMap<>(headers);
    }

    static Reply json(int status, Map<String, String> headers, JsonNode body) {
        return new Reply(status, headers, Json.write(body).getBytes(StandardCharsets.UTF_8), null);
    }

    static Reply raw(int status, Map<String, String> headers, String body) {
        return new Reply(status, headers, body.getBytes(StandardCharsets.UTF_8), null);
    }

    static Reply events(Map<String, String> headers, List<String> frames) {
        return new Reply(200, headers, null, List.copyOf(frames));
    }

    boolean streamed() {
        return frames != null;
    }

    /** The same answer with its JSON cut in half; a stream breaks off inside its middle event. */
    Reply truncated() {
        if (!streamed()) {
            return new Reply(status, headers, Arrays.copyOf(body, body.length / 2), null);
        }
        int middle = frames.size() / 2;
        String cut = frames.get(middle);
        String terminator = cut.endsWith("\r\n\r\n") ? "\r\n\r\n" : "\n\n";
        String event = cut.substring(0, cut.length() - terminator.length());
        int dataStart = event.indexOf("data: ") + "data: ".length();
        List<String> kept = new ArrayList<>(frames.subList(0, middle));
        kept.add(event.substring(0, dataStart + (event.length() - dataStart) / 2) + terminator);
        return new Reply(status, headers, null, kept);
    }

    /** The same status and headers with nothing after them. */
    Reply emptied() {
        return new Reply(status, headers, new byte[0], null);
    }
}
