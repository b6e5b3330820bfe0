package io.faultline.web;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.NumericNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.node.ValueNode;
import com.fasterxml.jackson.databind.util.RawValue;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Reads a JSON request body with a hard size cap, so an oversized body is a 413 problem, not memory pressure; and with
 * a cap on the values of each tree it builds, since a tree of tiny values takes some 30 times the body's size.
 */
public final class JsonBodies {

    /**
     * Values of an admin object per byte of its endpoint's limit: such objects hold a few dozen; a 16 KiB body of
     * empty objects would hold 5,000 (half a megabyte of tree).
     */
    private static final int BYTES_PER_VALUE = 16;

    private JsonBodies() {
    }

    /**
     * A body whose fields are each given once: a field given twice is a 400 naming it, as the bodies Jackson binds to
     * records already answered; until then these endpoints kept the last value without a word. At most one value per
     * 16 bytes of the limit: more is a 413.
     */
    public static JsonNode read(ObjectMapper json, byte[] body, long maxBytes) {
        int maxValues = (int) Math.max(64, Math.min(Integer.MAX_VALUE, maxBytes / BYTES_PER_VALUE));
        return read(json, body, maxBytes, true, maxValues, null);
    }

    /**
     * One call payload (classify): a field given twice keeps its last value, as Jackson reads by default. LiteLLM
     * never repeats one, and checking would cost every call of the hot path a set of its field names. A call of more
     * than {@code maxValues} values is a 413 naming {@code setting}.
     */
    public static JsonNode readCall(ObjectMapper json, byte[] body, long maxBytes, int maxValues, String setting) {
        return read(json, body, maxBytes, false, maxValues, setting);
    }

    /** What a batch endpoint reads: the bytes, the items and the values of one item it takes at most. */
    public record BatchLimits(long maxBytes, boolean strict, int maxItems, String itemsSetting, int maxItemValues,
            String valuesSetting) {
    }

    /** Takes a batch's items one at a time, in order, each read whole. */
    public interface Items {

        void item(int index, JsonNode item);

        /** An item of more values than an item may hold, left unread: to be rejected by its index. */
        void tooManyValues(int index, String reason);
    }

    /** A body that was an array, read item by item ({@code size} of them), or one other value, read whole. */
    public record Batch(int size, JsonNode single) {
    }

    /**
     * A batch read item by item: each item's tree is built, handed over and dropped before the next is read, so that
     * what the body holds beside its bytes is one item (of at most {@code maxItemValues} values) and what the endpoint
     * keeps of the others. Past {@code maxItems} items the body is a 413 at once: read whole, a 10 MiB array of empty
     * objects made a 283 MB tree before its size could be checked. A body that is no array is read whole, with the
     * same cap on its values (a 413 past it), and returned for the endpoint to judge.
     */
    public static Batch readBatch(ObjectMapper json, byte[] body, BatchLimits limits, Items items) {
        byte[] bytes = checked(body, limits.maxBytes());
        CountingNodes nodes = new CountingNodes(json.getDeserializationConfig().getNodeFactory(),
                limits.maxItemValues());
        ObjectReader reader = json.reader().with(nodes).without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        if (limits.strict()) {
            reader = reader.with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
        }
        try (JsonParser parser = reader.createParser(bytes)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                throw new ApiProblem(400, "Empty body", "Send a JSON body.");
            }
            if (first != JsonToken.START_ARRAY) {
                JsonNode single;
                try {
                    single = reader.readTree(parser);
                } catch (TooManyValues e) {
                    throw tooManyValues(limits.maxItemValues(), limits.valuesSetting());
                }
                noMoreValues(parser);
                return new Batch(0, single);
            }
            JsonStreamContext array = parser.getParsingContext();
            int size = 0;
            for (JsonToken next = parser.nextToken(); next != JsonToken.END_ARRAY; next = parser.nextToken()) {
                if (next == null) {
                    // Jackson reports an unclosed array itself; were it to end quietly, this loop would never end.
                    throw new ApiProblem(400, "Malformed JSON", "The body ends inside its array.");
                }
                if (size == limits.maxItems()) {
                    throw new ApiProblem(413, "Batch too large", "The batch has more than " + limits.maxItems()
                            + " items; at most " + limits.maxItems() + " are accepted per request ("
                            + limits.itemsSetting() + "): split it into smaller requests.");
                }
                nodes.reset();
                JsonNode item;
                try {
                    item = reader.readTree(parser);
                } catch (TooManyValues e) {
                    skipRest(parser, array);
                    items.tooManyValues(size++, "holds more than " + limits.maxItemValues() + " JSON values, the"
                            + " most one item may hold" + (limits.valuesSetting() == null ? ""
                                    : " (" + limits.valuesSetting() + ")"));
                    continue;
                }
                items.item(size++, item);
            }
            noMoreValues(parser);
            return new Batch(size, null);
        } catch (JsonProcessingException e) {
            throw JsonProblems.of(e);
        } catch (IOException e) {
            throw new ApiProblem(400, "Unreadable body", "The request body could not be read.");
        }
    }

    /**
     * A parser over a body whose fields are each given once, for an endpoint that reads its body as it is parsed: a
     * tree of small values takes twenty times the body's size (a 32 MiB body of empty arrays, 560 MB).
     */
    /**
     * A field's value as a problem may quote it ("got -1", "got \"fortnight\""): a number or boolean as sent, a short
     * plain string in quotes, anything else only by its kind, so that no caller text of any length or character is
     * echoed.
     */
    public static String shown(JsonNode value) {
        if (value.isNumber() || value.isBoolean()) {
            String text = value.toString();
            return text.length() <= 40 ? text : "a number";
        }
        if (value.isTextual()) {
            String text = value.textValue();
            return text.length() <= 40 && Params.plainText(text) && text.indexOf('"') < 0 ? "\"" + text + "\""
                    : "a string";
        }
        return value.isArray() ? "an array" : value.isObject() ? "an object" : "null";
    }

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
    private static JsonNode read(ObjectMapper json, byte[] body, long maxBytes, boolean strict, int maxValues,
            String setting) {
        byte[] bytes = checked(body, maxBytes);
        ObjectReader reader = json.reader().with(new CountingNodes(json.getDeserializationConfig().getNodeFactory(),
                maxValues)).without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        if (strict) {
            reader = reader.with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
        }
        try (JsonParser parser = reader.createParser(bytes)) {
            JsonNode root;
            try {
                root = reader.readTree(parser);
            } catch (TooManyValues e) {
                throw tooManyValues(maxValues, setting);
            }
            if (root == null) {
                throw new ApiProblem(400, "Empty body", "Send a JSON body.");
            }
            noMoreValues(parser);
            return root;
        } catch (JsonProcessingException e) {
            throw JsonProblems.of(e);
        } catch (IOException e) {
            throw new ApiProblem(400, "Unreadable body", "The request body could not be read.");
        }
    }

    private static void noMoreValues(JsonParser parser) throws IOException {
        if (parser.nextToken() != null) {
            var at = parser.currentTokenLocation();
            throw new ApiProblem(400, "Malformed JSON", "The body holds more than one JSON value: another begins at"
                    + " line " + at.getLineNr() + ", column " + at.getColumnNr() + ". Send one value (a batch: one"
                    + " array of all its items).");
        }
    }

    /** To the end of the item being read, without building it: the parser only tokenises what it skips. */
    private static void skipRest(JsonParser parser, JsonStreamContext array) throws IOException {
        while (parser.getParsingContext() != array) {
            JsonToken token = parser.nextToken();
            if (token == null) {
                throw new ApiProblem(400, "Malformed JSON", "The body ends inside an item.");
            }
            if (token.isStructStart()) {
                parser.skipChildren();
            }
        }
    }

    private static ApiProblem tooLarge(long maxBytes) {
        // Each endpoint has its own cap (a batch endpoint's is a setting, an admin object's a constant): the detail
        // names the number, not a setting that may not be this endpoint's.
        return new ApiProblem(413, "Payload too large", "The body exceeds " + maxBytes
                + " bytes, the most this endpoint accepts; send less (a batch: split it into smaller requests).");
    }

    private static ApiProblem tooManyValues(int maxValues, String setting) {
        return new ApiProblem(413, "Payload too large", "The body holds more than " + maxValues + " JSON values,"
                + " the most this endpoint reads" + (setting == null ? "" : " (" + setting + ")") + "; a tree of small"
                + " values takes many times their bytes in memory: send fewer.");
    }

    /** Thrown by {@link CountingNodes} past its cap; without a stack trace, which nothing reads. */
    private static final class TooManyValues extends RuntimeException {

        TooManyValues() {
            super(null, null, false, false);
        }
    }

    /**
     * The mapper's node factory, counting the values it makes: past {@code max} since the last reset, the tree being
     * built is abandoned. It makes every node of a tree Jackson reads, so the count is the tree's size.
     */
    private static final class CountingNodes extends JsonNodeFactory {

        private final JsonNodeFactory base;
        private final int max;
        private int made;

        CountingNodes(JsonNodeFactory base, int max) {
            this.base = base;
            this.max = max;
        }

        void reset() {
            made = 0;
        }

        private void count() {
            if (++made > max) {
                throw new TooManyValues();
            }
        }

        @Override
        @SuppressWarnings("deprecation")
        public boolean willStripTrailingBigDecimalZeroes() {
            return base.willStripTrailingBigDecimalZeroes();
        }

        @Override
        public ObjectNode objectNode() {
            count();
            return base.objectNode();
        }

        @Override
        public ArrayNode arrayNode() {
            count();
            return base.arrayNode();
        }

        @Override
        public ArrayNode arrayNode(int capacity) {
            count();
            return base.arrayNode(capacity);
        }

        @Override
        public TextNode textNode(String text) {
            count();
            return base.textNode(text);
        }

        @Override
        public BooleanNode booleanNode(boolean v) {
            count();
            return base.booleanNode(v);
        }

        @Override
        public NullNode nullNode() {
            count();
            return base.nullNode();
        }

        @Override
        public NumericNode numberNode(int v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public NumericNode numberNode(long v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public NumericNode numberNode(float v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public NumericNode numberNode(double v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public ValueNode numberNode(BigInteger v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public ValueNode numberNode(BigDecimal v) {
            count();
            return base.numberNode(v);
        }

        @Override
        public BinaryNode binaryNode(byte[] data) {
            count();
            return base.binaryNode(data);
        }

        @Override
        public ValueNode pojoNode(Object pojo) {
            count();
            return base.pojoNode(pojo);
        }

        @Override
        public ValueNode rawValueNode(RawValue value) {
            count();
            return base.rawValueNode(value);
        }
    }
}
