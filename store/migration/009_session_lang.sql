-- The language a person chose in 'dingbook serve' (en, id, zh; '' for
-- none), remembered with the session beside the dingbook_lang cookie.
ALTER TABLE session ADD COLUMN lang TEXT NOT NULL DEFAULT '';
