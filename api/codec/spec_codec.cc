// placeholder: implemented in a follow-up commit
