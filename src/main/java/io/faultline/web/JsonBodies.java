package io.faultline.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;

/** Reads a JSON request body with a hard size cap, so an oversized body is a 413 problem, not memory pressure. */
public final class JsonBodies {

    private JsonBodies() {
    }

    public static JsonNode read(ObjectMapper json, byte[] body, long maxBytes) {
        byte[] bytes = body == null ? new byte[0] : body;
        if (bytes.length > maxBytes) {
            throw tooLarge(maxBytes);
        }
        if (bytes.length == 0) {
            throw new ApiProblem(400, "Empty body", "Send a JSON body.");
        }
        try {
            return json.readTree(bytes);
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
