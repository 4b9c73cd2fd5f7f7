// One byte layout for an incident with its files, used for sealed outbox entries and encrypted
// drafts: a 4-byte big-endian length, that many bytes of JSON, then each file's bytes in order.
// The JSON lists the files as {name, type, size}; the server reads the same layout
// (server/offline/sealing.py).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function pack(header, files = []) {
  const buffers = await Promise.all(files.map((file) => file.arrayBuffer()));
  const json = encoder.encode(JSON.stringify({
    ...header,
    files: files.map((file, i) => ({ name: file.name, type: file.type, size: buffers[i].byteLength })),
  }));
  const total = 4 + json.length + buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  let offset = 4 + json.length;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out;
}

// -> {header, files: [File]}
export function unpack(bytes) {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
  const header = JSON.parse(decoder.decode(bytes.subarray(4, 4 + length)));
  let offset = 4 + length;
  const files = (header.files || []).map(({ name, type, size }) => {
    const file = new File([bytes.slice(offset, offset + size)], name, { type });
    offset += size;
    return file;
  });
  return { header, files };
}
