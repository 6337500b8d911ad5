-- model_size(manifest_key): the bytes of the model saved under a manifest (0 when none).
local function model_size(manifest_key)
  local raw = redis.call('GET', manifest_key)
  if not raw then return 0 end
  local ok, manifest = pcall(cjson.decode, raw)
  return (ok and type(manifest) == 'table' and manifest.size) or #raw
end
