-- Novo SGA 1.x (branch v1.5) tables read by the connector, as in its installer's MySQL DDL
-- (src/Novosga/Install/sql/create/mysql.sql): same columns, types and engines. Foreign keys on MyISAM
-- tables are ignored by the server; the ones between InnoDB catalogue tables are kept.

CREATE TABLE grupos (
    id integer NOT NULL AUTO_INCREMENT,
    nome varchar(50) NOT NULL,
    descricao varchar(150) NOT NULL,
    esquerda integer NOT NULL,
    direita integer NOT NULL,
    nivel integer NOT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE unidades (
    id integer NOT NULL AUTO_INCREMENT,
    grupo_id integer NOT NULL,
    codigo varchar(10) NOT NULL,
    nome varchar(50) NOT NULL,
    status smallint NOT NULL,
    stat_imp smallint NOT NULL,
    msg_imp varchar(100) NOT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE servicos (
    id integer NOT NULL AUTO_INCREMENT,
    macro_id integer,
    descricao varchar(100) NOT NULL,
    nome varchar(50) NOT NULL,
    status smallint NOT NULL,
    peso smallint NOT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE locais (
    id integer NOT NULL AUTO_INCREMENT,
    nome varchar(20) NOT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE uni_serv (
    unidade_id integer NOT NULL,
    servico_id integer NOT NULL,
    local_id integer NOT NULL,
    nome varchar(50) NOT NULL,
    sigla varchar(1) NOT NULL,
    status smallint NOT NULL,
    peso smallint NOT NULL,
    PRIMARY KEY (unidade_id, servico_id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE prioridades (
    id integer NOT NULL AUTO_INCREMENT,
    nome varchar(30) NOT NULL,
    descricao varchar(100) NOT NULL,
    peso smallint NOT NULL,
    status smallint NOT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE usuarios (
    id integer NOT NULL AUTO_INCREMENT,
    login varchar(20) NOT NULL,
    nome varchar(20) NOT NULL,
    sobrenome varchar(100) NOT NULL,
    senha varchar(60) NOT NULL,
    ult_acesso datetime,
    status smallint NOT NULL,
    session_id varchar(50) NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = INNODB;

CREATE TABLE atendimentos (
    id bigint NOT NULL AUTO_INCREMENT,
    unidade_id integer NOT NULL,
    usuario_id integer,
    usuario_tri_id integer NOT NULL,
    servico_id integer NOT NULL,
    prioridade_id integer NOT NULL,
    atendimento_id bigint,
    status smallint NOT NULL,
    sigla_senha varchar(1) NOT NULL,
    num_senha integer NOT NULL,
    num_senha_serv integer NOT NULL,
    nm_cli varchar(100) DEFAULT NULL,
    num_local smallint NOT NULL,
    dt_cheg datetime NOT NULL,
    dt_cha datetime,
    dt_ini datetime,
    dt_fim datetime,
    ident_cli varchar(11) DEFAULT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = MyISAM;

CREATE TABLE atend_codif (
    atendimento_id bigint NOT NULL AUTO_INCREMENT,
    servico_id integer NOT NULL,
    valor_peso smallint NOT NULL,
    PRIMARY KEY (atendimento_id, servico_id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = MyISAM;

CREATE TABLE historico_atendimentos (
    id bigint NOT NULL,
    unidade_id integer,
    usuario_id integer,
    usuario_tri_id integer NOT NULL,
    servico_id integer NOT NULL,
    prioridade_id integer NOT NULL,
    atendimento_id bigint,
    status integer NOT NULL,
    sigla_senha varchar(1) NOT NULL,
    num_senha integer NOT NULL,
    num_senha_serv integer NOT NULL,
    nm_cli varchar(100) DEFAULT NULL,
    num_local smallint NOT NULL,
    dt_cheg datetime NOT NULL,
    dt_cha datetime,
    dt_ini datetime,
    dt_fim datetime,
    ident_cli varchar(11) DEFAULT NULL,
    PRIMARY KEY (id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = MyISAM;

CREATE TABLE historico_atend_codif (
    atendimento_id bigint NOT NULL,
    servico_id integer NOT NULL,
    valor_peso smallint NOT NULL,
    PRIMARY KEY (atendimento_id, servico_id)
) DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci ENGINE = MyISAM;

ALTER TABLE unidades ADD CONSTRAINT unidades_grupo_id_fkey FOREIGN KEY (grupo_id) REFERENCES grupos(id) ON UPDATE RESTRICT ON DELETE RESTRICT;
ALTER TABLE servicos ADD CONSTRAINT servicos_ibfk_1 FOREIGN KEY (macro_id) REFERENCES servicos(id) ON UPDATE RESTRICT ON DELETE RESTRICT;
ALTER TABLE uni_serv ADD CONSTRAINT uni_serv_ibfk_1 FOREIGN KEY (unidade_id) REFERENCES unidades(id) ON UPDATE RESTRICT ON DELETE RESTRICT;
ALTER TABLE uni_serv ADD CONSTRAINT uni_serv_ibfk_2 FOREIGN KEY (servico_id) REFERENCES servicos(id) ON UPDATE RESTRICT ON DELETE RESTRICT;
ALTER TABLE uni_serv ADD CONSTRAINT uni_serv_ibfk_3 FOREIGN KEY (local_id) REFERENCES locais(id) ON UPDATE RESTRICT ON DELETE RESTRICT;
CREATE INDEX fki_atendimentos_ibfk_2 ON atendimentos (unidade_id, servico_id);
CREATE INDEX fki_atendimentos_ibfk_3 ON atendimentos (status);
CREATE INDEX fki_servicos_ibfk_1 ON servicos (macro_id);
CREATE UNIQUE INDEX codigo ON unidades (codigo);
CREATE UNIQUE INDEX login ON usuarios (login);

CREATE VIEW view_historico_atendimentos AS
    SELECT id, unidade_id, usuario_id, usuario_tri_id, servico_id, prioridade_id, atendimento_id, status,
           sigla_senha, num_senha, num_senha_serv, nm_cli, num_local, dt_cheg, dt_cha, dt_ini, dt_fim, ident_cli
    FROM atendimentos
    UNION ALL
    SELECT id, unidade_id, usuario_id, usuario_tri_id, servico_id, prioridade_id, atendimento_id, status,
           sigla_senha, num_senha, num_senha_serv, nm_cli, num_local, dt_cheg, dt_cha, dt_ini, dt_fim, ident_cli
    FROM historico_atendimentos;
