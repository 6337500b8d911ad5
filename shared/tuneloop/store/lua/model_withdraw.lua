--#include budget
--#include model_size
-- Withdraw a model: its description and its listings go, and its bytes leave its project's
-- usage, in one step (the caller deletes the bytes after). KEYS: the description, the model
-- list, the project's model list, the project's usage, the model's manifest. ARGV: the model
-- id. Returns 1 when withdrawn, 0 when there was no such model (nothing counted twice).
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
count(KEYS[4], 'models', -model_size(KEYS[5]), -1)
return 1
