--#include model_size
-- The bytes of the model saved under KEYS[1] (a manifest, or a value stored whole).
return model_size(KEYS[1])
