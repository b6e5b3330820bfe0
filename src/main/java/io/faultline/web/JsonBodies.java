package io.faultline.web;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;

import java.io.IOException;

/** Reads a JSON request body with a hard size cap, so an oversized body is a 413 problem, not memory pressure. */
public final class JsonBodies {

    private JsonBodies() {
    }

    /**
     * A body whose fields are each given once: a field given twice is a 400 naming it, as the bodies Jackson binds to
     * records already answered; until then these endpoints kept the last value without a word.
     */
    public static JsonNode read(ObjectMapper json, byte[] body, long maxBytes) {
        return read(json, body, maxBytes, true);
    }

    /**
     * A call payload (ingest and classify): a field given twice keeps its last value, as Jackson reads by default.
     * LiteLLM never repeats one, and checking would cost every call of the hot path a set of its field names.
     */
    public static JsonNode readCalls(ObjectMapper json, byte[] body, long maxBytes) {
        return read(json, body, maxBytes, false);
    }

    /**
     * A parser over a body whose fields are each given once, for an endpoint that reads its body as it is parsed: a
     * tree of small values takes twenty times the body's size (a 32 MiB body of empty arrays, 560 MB).
     */
    public static JsonParser parser(ObjectMapper json, byte[] body, long maxBytes) {
        byte[] bytes = checked(body, maxBytes);
        try {
            return json.reader().with(StreamReadFeature.STRICT_DUPLICATE_DETECTION).createParser(bytes);
        } catch (IOException e) {
            throw new ApiProblem(400, "Unreadable body", "The request body could not be read.");
        }
    }

    private static byte[] checked(byte[] body, long maxBytes) {
        byte[] bytes = body == null ? new byte[0] : body;
        if (bytes.length > maxBytes) {
            throw tooLarge(maxBytes);
        }
        if (bytes.length == 0) {
            throw new ApiProblem(400, "Empty body", "Send a JSON body.");
        }
        return bytes;
    }

    /**
     * One JSON value and nothing after it: {@code [...][...]}, two batches run together by a sender, was read as the
     * first, acknowledged, and the second dropped without a word; now it is a 400 that says more followed.
     */
    private static JsonNode read(ObjectMapper json, byte[] body, long maxBytes, boolean strict) {
        byte[] bytes = checked(body, maxBytes);
        ObjectReader reader = json.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        try {
            return (strict ? reader.with(StreamReadFeature.STRICT_DUPLICATE_DETECTION) : reader).readTree(bytes);
        } catch (MismatchedInputException e) {
            if (e.getOriginalMessage() != null && e.getOriginalMessage().startsWith("Trailing token")) {
                String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                        + e.getLocation().getColumnNr();
                throw new ApiProblem(400, "Malformed JSON", "The body holds more than one JSON value: another"
                        + " begins" + where + ". Send one value (a batch: one array of all its items).");
            }
            throw JsonProblems.of(e);
        } catch (JsonProcessingException e) {
            throw JsonProblems.of(e);
        } catch (IOException e) {
            throw new ApiProblem(400, "Unreadable body", "The request body could not be read.");
        }
    }

    private static ApiProblem tooLarge(long maxBytes) {
        // Each endpoint has its own cap (a batch endpoint's is a setting, an admin object's a constant): the detail
        // names the number, not a setting that may not be this endpoint's.
        return new ApiProblem(413, "Payload too large", "The body exceeds " + maxBytes
                + " bytes, the most this endpoint accepts; send less (a batch: split it into smaller requests).");
    }
}
